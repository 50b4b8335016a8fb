SELECT min(datetime) FROM {{ final_table }}
