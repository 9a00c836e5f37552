{#-
  What an incremental build of the complaint tables covers.

  The Dagster asset (complaints_platform/defs/marts/warehouse.py, lib/warehouse.py) compares the
  lake's silver files with the ones the last successful build read, and writes the receipt days whose
  complaints_categorised or complaint_duplicates file is new, rewritten or gone to
  <data>/dbt_target/lake_changes.json for the length of one build. Only a build Dagster started
  (dagster-dbt sets DAGSTER_DBT_CLI) reads it: a plain `dbt build`, or one without the file,
  recomputes every complaint, so a file left behind by a killed build misleads nobody.
-#}

{% macro changed_days() %}
    {#- The changed receipt days as 'YYYY-MM-DD' strings, or none: everything changed. -#}
    {%- if not execute or env_var('DAGSTER_DBT_CLI', '') != 'true' -%}{{ return(none) }}{%- endif -%}
    {%- set path = env_var('COMPLAINTS_DATA_DIR') ~ '/dbt_target/lake_changes.json' -%}
    {%- set found = run_query("select count(*) from glob('" ~ path ~ "')").columns[0].values()[0] -%}
    {%- if found == 0 -%}{{ return(none) }}{%- endif -%}
    {%- set days = run_query(
        "select strftime(cast(unnest(changed_days) as date), '%Y-%m-%d') from read_json('" ~ path ~ "', "
        ~ "columns = {'changed_days': 'varchar[]'})"
    ).columns[0].values() -%}
    {{ return(days | list) }}
{% endmacro %}


{% macro in_days(column, days) %}
    {#- `column in (date '...', ...)` as constants, so DuckDB skips other days' Parquet row groups. -#}
    {%- if days | length == 0 -%}false{%- else -%}
    {{ column }} in ({% for day in days %}date '{{ day }}'{% if not loop.last %}, {% endif %}{% endfor %})
    {%- endif -%}
{% endmacro %}


{% macro affected_receipt_days() %}
    {#- The receipt days holding any version of an affected complaint (after this build's update of
        int_complaint_receipts): the only silver files an incremental build reads. -#}
    {%- if not execute -%}{{ return([]) }}{%- endif -%}
    {%- set days = run_query(
        "select distinct strftime(received_date, '%Y-%m-%d') from " ~ ref('int_complaint_receipts')
        ~ " where complaint_id in (select complaint_id from " ~ ref('int_changed_complaints') ~ ") order by 1"
    ).columns[0].values() -%}
    {{ return(days | list) }}
{% endmacro %}


{% macro delete_changed_days() %}
    {#- pre_hook of int_complaint_receipts: remove the changed days' rows (every row: everything changed). -#}
    {%- if is_incremental() -%}
        delete from {{ this }}{% if changed_days() is not none %} where {{ in_days('received_date', changed_days()) }}{% endif %}
    {%- endif -%}
{% endmacro %}


{% macro delete_affected_complaints() %}
    {#- pre_hook of the per-complaint incremental tables: remove what this build recomputes. -#}
    {%- if is_incremental() -%}
        {%- if changed_days() is none -%}
            delete from {{ this }}
        {%- else -%}
            delete from {{ this }} where complaint_id in (select complaint_id from {{ ref('int_changed_complaints') }})
        {%- endif -%}
    {%- endif -%}
{% endmacro %}


{% macro partial_build() %}
    {#- Whether this build recomputes only the affected complaints (true) or every one. -#}
    {{ return(is_incremental() and changed_days() is not none) }}
{% endmacro %}


{% macro complaint_versions() %}
    {#- Every version (stg_complaints row) of the complaints this build recomputes. -#}
    select *
    from {{ ref('stg_complaints') }}
    {% if partial_build() %}
    where {{ in_days('received_date', affected_receipt_days()) }}
        and complaint_id in (select complaint_id from {{ ref('int_changed_complaints') }})
    {% endif %}
{% endmacro %}


{% macro get_where_subquery(relation) -%}
    {#- dbt's own (a test's `where` config), narrowed in an incremental build to what the build
        changed: the complaint tables' tests check the complaints it recomputed, the staging views'
        tests the changed receipt days. Every other row passed the same tests when it was written
        (a failed build is followed by a full one), and a full build tests every row. -#}
    {%- set filters = [] -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}{%- do filters.append(where) -%}{%- endif -%}
    {%- set scope = incremental_test_scope(relation) -%}
    {%- if scope -%}{%- do filters.append(scope) -%}{%- endif -%}
    {%- if filters -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ filters | join(' and ') ~ ') dbt_subquery') -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}


{% macro build_started_at() %}
    {#- When this dbt invocation started, as a timestamptz: the complaint tables' built_at. -#}
    cast('{{ run_started_at.isoformat() }}' as timestamptz)
{%- endmacro %}


{% macro incremental_test_scope(relation) %}
    {%- set days = changed_days() -%}
    {%- if days is none -%}{{ return('') }}{%- endif -%}
    {%- if relation.identifier in ('fct_complaint_sources', 'fct_complaints') -%}
        {#- The rows this build wrote, which are the recomputed complaints' rows: a constant the scan
            matches against each row group's min and max, so the older rows are not read (a filter
            on complaint_id read every id: 0.2-0.3 s a test with 90 days at 100k a day). -#}
        {{ return('built_at = ' ~ build_started_at()) }}
    {%- elif relation.identifier == 'int_complaint_receipts' -%}
        {%- set changed = api.Relation.create(
            database=relation.database, schema=relation.schema, identifier='int_changed_complaints') -%}
        {{ return('complaint_id in (select complaint_id from ' ~ changed ~ ')') }}
    {%- elif relation.identifier in ('stg_complaints', 'stg_duplicates') -%}
        {{ return(in_days('received_date', days)) }}
    {%- endif -%}
    {{ return('') }}
{% endmacro %}
