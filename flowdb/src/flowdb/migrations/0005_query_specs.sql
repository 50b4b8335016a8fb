-- FlowMachine keeps the spec of every query it is asked to run here as well as in Redis, so a Redis that lost
-- its data (restarted without persistence, flushed, replaced) costs nothing: a server that misses a query id
-- in Redis finds the spec here, and the query's cache table (if any) says it is completed.
CREATE TABLE IF NOT EXISTS cache.query_specs (
    query_id   TEXT PRIMARY KEY,
    spec       JSONB NOT NULL,
    created    TIMESTAMPTZ NOT NULL DEFAULT now()
);
