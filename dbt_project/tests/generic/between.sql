{% test between(model, column_name, min_value=none, max_value=none) %}
-- Rows whose value lies outside [min_value, max_value] (either bound may be left open); nulls pass.
{% if min_value is none and max_value is none %}
    {{ exceptions.raise_compiler_error("between needs min_value, max_value or both") }}
{% endif %}
select {{ column_name }}
from {{ model }}
where
    {% if min_value is not none %}{{ column_name }} < {{ min_value }}{% else %}false{% endif %}
    or {% if max_value is not none %}{{ column_name }} > {{ max_value }}{% else %}false{% endif %}
{% endtest %}
