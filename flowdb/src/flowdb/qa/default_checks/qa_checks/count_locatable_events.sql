{# One row per (event, version of its cell in service that day), as FlowETL's join counts them. #}
SELECT count(*)
FROM {{ final_table }} AS event
{% include "qa_checks/cells_in_service.sql.inc" %}
