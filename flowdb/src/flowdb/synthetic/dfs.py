"""Synthetic mobile-money data for the `dfs` schema (FlowKit generates it for its test data the same way).

N_DFS_TRANSACTIONS transactions a day (default 3,000; 0 leaves the schema empty) between up to 1,000 of the
subscribers seen in the events, of 14 transaction types (customer, agent and super-agent pairs), with amount
0–10,000, discount 0–100, fee 0–500 and commission 0–2,000 (two decimals), at a random time of the day; each
party placed at a random cell (its version in service that day). Deterministic: every draw is a seeded hash
of the transaction number.
"""

from __future__ import annotations

import psycopg

from flowdb.rows import scalar
from flowdb.synthetic.config import SyntheticConfig

TRANSACTION_TYPES = [
    (descr, a, b)
    for a in ("customer", "agent", "superagent")
    for b in ("customer", "agent", "superagent")
    for descr in (f"{a}_to_{b}",)
] + [(f"special_{n}", "customer", "customer") for n in range(1, 6)]

MAX_DFS_SUBSCRIBERS = 1000


def clear_dfs(conn: psycopg.Connection) -> None:
    """Empty the dfs tables (they refer to cells, which a new synthetic world replaces)."""
    conn.execute(
        "TRUNCATE dfs.transactions_metadata, dfs.transactions, dfs.subscribers, dfs.transaction_types "
        "RESTART IDENTITY"
    )


def build_dfs(conn: psycopg.Connection, config: SyntheticConfig) -> int:
    """Fill the dfs tables for the config's days; returns the number of transactions."""
    clear_dfs(conn)
    if config.n_dfs_transactions == 0:
        return 0
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO dfs.transaction_types (descr, user_type_a_party, user_type_b_party) "
            "VALUES (%s, %s, %s)",
            TRANSACTION_TYPES,
        )
    conn.execute(
        """INSERT INTO dfs.subscribers (msisdn)
           SELECT msisdn FROM (SELECT DISTINCT msisdn FROM events.calls WHERE msisdn IS NOT NULL) s
           ORDER BY md5(msisdn || %(seed)s::text) LIMIT %(n)s""",
        {"seed": config.calls_seed, "n": MAX_DFS_SUBSCRIBERS},
    )
    n_subs = scalar(conn.execute("SELECT count(*) FROM dfs.subscribers"))
    if n_subs < 2:
        clear_dfs(conn)
        return 0
    params = {
        "seed": config.calls_seed + 99_999,
        "start": config.start_date,
        "days": config.n_days,
        "per_day": config.n_dfs_transactions,
        "n_types": len(TRANSACTION_TYPES),
        "n_subs": n_subs,
    }
    # draw(k, salt) in [0, 2^31): a seeded hash of transaction k
    conn.execute(
        """INSERT INTO dfs.transactions (id, amount, discount, fee, commission, transtype_id, timestamp)
           SELECT k,
                  ((hashint8extended(k, %(seed)s + 1) & 2147483647) %% 1000001) / 100.0,
                  ((hashint8extended(k, %(seed)s + 2) & 2147483647) %% 10001) / 100.0,
                  ((hashint8extended(k, %(seed)s + 3) & 2147483647) %% 50001) / 100.0,
                  ((hashint8extended(k, %(seed)s + 4) & 2147483647) %% 200001) / 100.0,
                  1 + (hashint8extended(k, %(seed)s + 5) & 2147483647) %% %(n_types)s,
                  (%(start)s::date + ((k - 1) / %(per_day)s)::int)::timestamptz
                      + make_interval(secs => (hashint8extended(k, %(seed)s + 6) & 2147483647) %% 86400)
           FROM generate_series(1, %(days)s::bigint * %(per_day)s) k""",
        params,
    )
    conn.execute("SELECT setval('dfs.transactions_id_seq', (SELECT max(id) FROM dfs.transactions))")
    # Each party: a subscriber (the b-party another one) and a cell, the latest version of a random cell id.
    conn.execute(
        """WITH cells AS (
               SELECT id, version, row_number() OVER (ORDER BY id) - 1 AS n
               FROM (SELECT DISTINCT ON (id) id, version FROM infrastructure.cells
                     ORDER BY id, version DESC) latest
           ),
           parties AS (
               SELECT t.id AS transaction_id, p.is_outgoing,
                      (hashint8extended(t.id, %(seed)s + 7) & 2147483647) %% %(n_subs)s
                        + CASE WHEN p.is_outgoing THEN 0
                               ELSE 1 + (hashint8extended(t.id, %(seed)s + 8) & 2147483647)
                                        %% (%(n_subs)s - 1) END AS sub_draw,
                      hashint8extended(t.id * 2 + p.is_outgoing::int, %(seed)s + 9) & 2147483647
                        AS cell_draw
               FROM dfs.transactions t CROSS JOIN (VALUES (true), (false)) p (is_outgoing)
           )
           INSERT INTO dfs.transactions_metadata
               (transaction_id, subscriber_id, cell_id, cell_version, is_outgoing)
           SELECT p.transaction_id, 1 + p.sub_draw %% %(n_subs)s, c.id, c.version, p.is_outgoing
           FROM parties p
           JOIN cells c ON c.n = p.cell_draw %% (SELECT count(*) FROM cells)""",
        params,
    )
    return config.n_days * config.n_dfs_transactions
