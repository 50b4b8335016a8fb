{# Rows beyond the first of each repeated row group (every column but id). #}
SELECT coalesce(sum(copies - 1), 0) FROM (
    SELECT count(*) AS copies
    FROM {{ final_table }}
    GROUP BY {% include "qa_checks/columns_compared_for_duplicates.sql.inc" %}
    HAVING count(*) > 1
) AS repeated
