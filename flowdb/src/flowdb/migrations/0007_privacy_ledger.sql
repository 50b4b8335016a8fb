-- The differential-privacy ledger FlowAPI keeps (issue 21): what each token, and each user across all of their
-- tokens, has spent of the epsilon budget their role grants. FlowAPI charges a query id's epsilon at the first
-- result it streams to a token; the same token reading the same query id again pays nothing. FlowMachine has no
-- rights here; the flowapi role may read, insert and update these tables, never delete (flowdb/roles.py).
CREATE SCHEMA IF NOT EXISTS privacy;

-- One row per user (`sub`): the lock every debit of that user takes first, and the user's total, which counts
-- each query id once whichever of the user's tokens paid for it.
CREATE TABLE IF NOT EXISTS privacy.user_spend (
    sub     TEXT PRIMARY KEY,
    spent   NUMERIC NOT NULL DEFAULT 0 CHECK (spent >= 0),
    updated TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One row per token (`jti`): its total and the budget its privacy claim named when it first spent.
CREATE TABLE IF NOT EXISTS privacy.token_spend (
    jti     TEXT PRIMARY KEY,
    sub     TEXT NOT NULL REFERENCES privacy.user_spend (sub),
    budget  NUMERIC NOT NULL CHECK (budget > 0),
    spent   NUMERIC NOT NULL DEFAULT 0 CHECK (spent >= 0),
    expires TIMESTAMPTZ,
    created TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One row per (token, query id) charged: the release of that query's noisy result to that token.
CREATE TABLE IF NOT EXISTS privacy.charges (
    jti      TEXT NOT NULL REFERENCES privacy.token_spend (jti),
    query_id TEXT NOT NULL,
    sub      TEXT NOT NULL,
    epsilon  NUMERIC NOT NULL CHECK (epsilon > 0),
    charged  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (jti, query_id)
);
CREATE INDEX IF NOT EXISTS charges_sub_query_idx ON privacy.charges (sub, query_id);

-- Per user: what they have spent and over how many tokens and query ids (for administrators).
CREATE OR REPLACE VIEW privacy.user_ledger AS
SELECT u.sub,
       u.spent,
       (SELECT count(*) FROM privacy.token_spend t WHERE t.sub = u.sub) AS tokens,
       (SELECT count(DISTINCT c.query_id) FROM privacy.charges c WHERE c.sub = u.sub) AS query_ids,
       u.updated
FROM privacy.user_spend u;
