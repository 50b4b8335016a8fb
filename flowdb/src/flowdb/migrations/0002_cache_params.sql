-- FlowMachine records each cached query's canonical parameters (sub-queries as their ids) next to its class,
-- so a cache entry says what it is without unpickling anything.
ALTER TABLE cache.cached ADD COLUMN IF NOT EXISTS params JSONB;
