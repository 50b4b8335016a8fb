-- Differentially private releases (issue 21, FLOWMACHINE_RELEASE_MODE=differential_privacy). FlowMachine draws
-- the noise of a query id once and keeps the noisy rows in a table `dp.x<query_id>` of this schema for good:
-- the cache table of the query is only a copy, so evicting or resetting it and computing the query again gives
-- the same noisy values back instead of a fresh draw (which would let repeated runs average the noise away).
-- FlowMachine writes here (flowdb/roles.py); the flowapi role has no rights on this schema.
CREATE SCHEMA IF NOT EXISTS dp;
REVOKE ALL ON SCHEMA dp FROM PUBLIC;

-- One row per release, written in the transaction that creates its table.
CREATE TABLE IF NOT EXISTS dp.releases (
    query_id    TEXT PRIMARY KEY,
    class       TEXT NOT NULL,
    epsilon     DOUBLE PRECISION NOT NULL CHECK (epsilon > 0),
    sensitivity INTEGER NOT NULL CHECK (sensitivity >= 1),
    scale       DOUBLE PRECISION NOT NULL CHECK (scale > 0),
    n_rows      BIGINT NOT NULL,
    tablename   TEXT NOT NULL,
    created     TIMESTAMPTZ NOT NULL DEFAULT now()
);
