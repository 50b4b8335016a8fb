-- A few summary counts printed by `make demo`.
\echo 'Events per type and day:'
SELECT cdr_type, min(cdr_date) AS first_day, max(cdr_date) AS last_day, count(*) AS days
FROM etl.available_dates GROUP BY cdr_type ORDER BY cdr_type;
\echo 'Rows, subscribers and cells per type:'
SELECT cdr_type, rows, subscribers, cells FROM (
    SELECT 1 AS k, 'calls' AS cdr_type, count(*) AS rows, count(DISTINCT msisdn) AS subscribers,
           count(DISTINCT location_id) AS cells FROM events.calls
    UNION ALL SELECT 2, 'sms', count(*), count(DISTINCT msisdn), count(DISTINCT location_id) FROM events.sms
    UNION ALL SELECT 3, 'mds', count(*), count(DISTINCT msisdn), count(DISTINCT location_id) FROM events.mds
    UNION ALL SELECT 4, 'topups', count(*), count(DISTINCT msisdn), count(DISTINCT location_id) FROM events.topups
) t ORDER BY k;
\echo 'An example analysis: subscribers whose last call of the first day was in each admin1 region:'
WITH cell_admin AS (
    SELECT c.id AS location_id, a.admin1name
    FROM infrastructure.cells c JOIN geography.admin1 a ON ST_Within(c.geom_point, a.geom)
), last_call AS (
    SELECT DISTINCT ON (msisdn) msisdn, location_id
    FROM events.calls
    WHERE datetime >= (SELECT min(cdr_date) FROM etl.available_dates)
      AND datetime < (SELECT min(cdr_date) FROM etl.available_dates) + 1
    ORDER BY msisdn, datetime DESC, location_id
)
SELECT ca.admin1name AS region, count(*) AS subscribers
FROM last_call l JOIN cell_admin ca USING (location_id)
GROUP BY ca.admin1name HAVING count(*) > 15 ORDER BY subscribers DESC;
