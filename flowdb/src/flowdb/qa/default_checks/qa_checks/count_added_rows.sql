SELECT count(*) FROM {{ final_table }}
