{# NULL counts as one location id, as in FlowETL. #}
SELECT count(*) FROM (SELECT DISTINCT location_id FROM {{ final_table }}) AS distinct_location_ids
