{# Subscribers seen on either side of an event. #}
SELECT count(*) FROM (
    SELECT DISTINCT msisdn FROM {{ final_table }}
    {%- if cdr_type in ("calls", "sms") %}
    UNION
    SELECT msisdn_counterpart FROM {{ final_table }} WHERE msisdn_counterpart IS NOT NULL
    {%- endif %}
) AS subscribers
