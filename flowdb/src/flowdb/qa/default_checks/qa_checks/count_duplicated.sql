{# Row groups that occur more than once (every column but id). #}
SELECT count(*) FROM (
    SELECT 1
    FROM {{ final_table }}
    GROUP BY {% include "qa_checks/columns_compared_for_duplicates.sql.inc" %}
    HAVING count(*) > 1
) AS repeated
