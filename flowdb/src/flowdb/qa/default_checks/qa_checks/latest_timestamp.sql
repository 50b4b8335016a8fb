SELECT max(datetime) FROM {{ final_table }}
