SELECT max(msisdns) FROM (
    SELECT count(*) AS msisdns FROM (
        SELECT imei, msisdn FROM {{ final_table }} WHERE imei IS NOT NULL GROUP BY imei, msisdn
    ) AS pairs
    GROUP BY imei
) AS per_imei
