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
