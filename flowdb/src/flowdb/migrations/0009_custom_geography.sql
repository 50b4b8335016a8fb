-- Custom geography (issue 22): polygon layers an operator loads with `flowdb load-geography FILE --layer NAME`,
-- one table custom_geography.<name> per layer, and the operator's own mapping and geometry tables, which the
-- API's mapping_table / geom_table fields may name. FlowMachine and the FlowAPI role only read this schema
-- (flowdb/custom_geography.py grants it); only the superuser writes it.
CREATE SCHEMA IF NOT EXISTS custom_geography;
REVOKE ALL ON SCHEMA custom_geography FROM PUBLIC;

-- One row per loaded polygon layer; its table is custom_geography.<name>. A layer is never replaced in place
-- (cached results of a layer's unit are keyed by its name): a new version is loaded under a new name.
CREATE TABLE IF NOT EXISTS custom_geography.layers (
    name      TEXT PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{0,39}$'),
    source    TEXT NOT NULL,
    features  INTEGER NOT NULL CHECK (features > 0),
    loaded_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
