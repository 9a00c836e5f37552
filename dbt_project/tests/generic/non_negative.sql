{% test non_negative(model, column_name) %}
-- Rows whose value is below zero; nulls pass (use not_null for those).
select {{ column_name }}
from {{ model }}
where {{ column_name }} < 0
{% endtest %}
