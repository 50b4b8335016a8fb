SELECT count(*) FROM (
    SELECT event.location_id
    FROM {{ final_table }} AS event
    {% include "qa_checks/cells_in_service.sql.inc" %}
    GROUP BY event.location_id
) AS locatable
