SELECT max(msisdns) FROM (
    SELECT count(*) AS msisdns FROM (
        SELECT imsi, msisdn FROM {{ final_table }} WHERE imsi IS NOT NULL GROUP BY imsi, msisdn
    ) AS pairs
    GROUP BY imsi
) AS per_imsi
