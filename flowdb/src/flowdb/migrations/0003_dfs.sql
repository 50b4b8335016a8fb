-- Digital financial services (mobile money), as FlowKit's FlowDB has them: transaction types, transactions,
-- the subscribers taking part, and two metadata rows per transaction (the a-party, outgoing, and the b-party)
-- placing each party at a cell version. FlowMachine reads them (dfs_metric_total_amount); FlowAPI never does.
CREATE SCHEMA IF NOT EXISTS dfs;

CREATE TABLE IF NOT EXISTS dfs.transaction_types (
    id                SERIAL PRIMARY KEY,
    descr             TEXT NOT NULL,
    user_type_a_party TEXT NOT NULL,
    user_type_b_party TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS dfs.transactions (
    id           BIGSERIAL PRIMARY KEY,
    amount       NUMERIC(14, 4) NOT NULL,
    discount     NUMERIC(14, 4) NOT NULL,
    fee          NUMERIC(14, 4) NOT NULL,
    commission   NUMERIC(14, 4) NOT NULL,
    transtype_id INTEGER NOT NULL REFERENCES dfs.transaction_types (id),
    timestamp    TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS transactions_timestamp_idx ON dfs.transactions (timestamp);

CREATE TABLE IF NOT EXISTS dfs.subscribers (
    id     BIGSERIAL PRIMARY KEY,
    msisdn TEXT COLLATE "C" NOT NULL UNIQUE
);

CREATE TABLE IF NOT EXISTS dfs.transactions_metadata (
    transaction_id BIGINT NOT NULL REFERENCES dfs.transactions (id) ON DELETE CASCADE,
    subscriber_id  BIGINT NOT NULL REFERENCES dfs.subscribers (id),
    cell_id        TEXT NOT NULL,
    cell_version   INTEGER NOT NULL,
    is_outgoing    BOOLEAN NOT NULL,
    PRIMARY KEY (transaction_id, is_outgoing),
    FOREIGN KEY (cell_id, cell_version) REFERENCES infrastructure.cells (id, version)
);
