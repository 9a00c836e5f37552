-- The complaints an incremental build recomputes: every complaint with a version, a copy or a source
-- record on a changed receipt day, now (the new silver files) or before (the tables as the last
-- build left them, read here before this build updates them). Empty when everything is rebuilt.
-- depends_on: {{ ref('stg_complaints') }}
-- depends_on: {{ ref('stg_duplicates') }}
{% set days = changed_days() %}
{% set receipts = adapter.get_relation(this.database, this.schema, 'int_complaint_receipts') %}
{% set sources = adapter.get_relation(this.database, this.schema, 'fct_complaint_sources') %}
{% if days is none %}
select cast(null as varchar) as complaint_id
where false
{% else %}
select complaint_id from {{ ref('stg_complaints') }} where {{ in_days('received_date', days) }}
union
select complaint_id from {{ ref('stg_duplicates') }} where {{ in_days('received_date', days) }}
union
select duplicate_of from {{ ref('stg_duplicates') }} where {{ in_days('received_date', days) }}
{% if receipts is not none %}
union
select complaint_id from {{ receipts }} where {{ in_days('received_date', days) }}
{% endif %}
{% if sources is not none %}
union
select complaint_id from {{ sources }} where {{ in_days('received_date', days) }}
{% endif %}
{% endif %}
