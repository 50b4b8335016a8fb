-- FlowDB base schema: FlowKit 1.34's public tables, event partitions, infrastructure, geography, cache and ETL
-- bookkeeping. Roles and grants are reconciled separately on every start (flowdb.roles), because their names
-- and passwords come from the environment.

CREATE EXTENSION IF NOT EXISTS postgis;
CREATE EXTENSION IF NOT EXISTS tsm_system_rows;
CREATE EXTENSION IF NOT EXISTS fuzzystrmatch;

CREATE SCHEMA IF NOT EXISTS events;
CREATE SCHEMA IF NOT EXISTS infrastructure;
CREATE SCHEMA IF NOT EXISTS geography;
CREATE SCHEMA IF NOT EXISTS cache;
CREATE SCHEMA IF NOT EXISTS etl;
CREATE SCHEMA IF NOT EXISTS population;
CREATE SCHEMA IF NOT EXISTS elevation;
CREATE SCHEMA IF NOT EXISTS routing;

-- ---------------------------------------------------------------------------------------------------------
-- public: version, location table, available tables
-- ---------------------------------------------------------------------------------------------------------
CREATE TABLE public.flowdb_version (
    version      TEXT PRIMARY KEY,
    release_date DATE,
    updated      BOOLEAN NOT NULL DEFAULT false,
    installed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE FUNCTION public.flowdb_version()
RETURNS TABLE (version TEXT, release_date DATE)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT v.version, v.release_date FROM public.flowdb_version v
    ORDER BY v.installed_at DESC LIMIT 1
$$;

CREATE TABLE public.location_table (
    location_table TEXT PRIMARY KEY,
    changed        BOOLEAN NOT NULL DEFAULT false
);
INSERT INTO public.location_table (location_table) VALUES ('infrastructure.cells');

CREATE FUNCTION public.location_table()
RETURNS TABLE (location_table TEXT)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT l.location_table FROM public.location_table l
$$;

CREATE TABLE public.available_tables (
    table_name       TEXT PRIMARY KEY,
    has_locations    BOOLEAN NOT NULL DEFAULT false,
    has_subscribers  BOOLEAN NOT NULL DEFAULT false,
    has_counterparts BOOLEAN NOT NULL DEFAULT false
);

CREATE FUNCTION public.available_tables()
RETURNS TABLE (table_name TEXT, has_locations BOOLEAN, has_subscribers BOOLEAN, has_counterparts BOOLEAN)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT a.table_name, a.has_locations, a.has_subscribers, a.has_counterparts
    FROM public.available_tables a ORDER BY a.table_name
$$;

-- ---------------------------------------------------------------------------------------------------------
-- events: one RANGE-partitioned parent per CDR type, one child per day created by the loaders
-- ---------------------------------------------------------------------------------------------------------
CREATE TABLE events.calls (
    id                 TEXT,
    outgoing           BOOLEAN,
    datetime           TIMESTAMPTZ NOT NULL,
    duration           NUMERIC,
    network            TEXT,
    msisdn             TEXT COLLATE "C" NOT NULL,
    msisdn_counterpart TEXT COLLATE "C",
    location_id        TEXT,
    imsi               TEXT COLLATE "C",
    imei               TEXT COLLATE "C",
    tac                NUMERIC(8),
    operator_code      NUMERIC,
    country_code       NUMERIC
) PARTITION BY RANGE (datetime);

CREATE TABLE events.forwards (
    id                 TEXT,
    outgoing           BOOLEAN,
    datetime           TIMESTAMPTZ NOT NULL,
    network            TEXT,
    msisdn             TEXT COLLATE "C" NOT NULL,
    msisdn_counterpart TEXT COLLATE "C",
    location_id        TEXT,
    imsi               TEXT COLLATE "C",
    imei               TEXT COLLATE "C",
    tac                NUMERIC(8),
    operator_code      NUMERIC,
    country_code       NUMERIC
) PARTITION BY RANGE (datetime);

CREATE TABLE events.sms (
    id                 TEXT,
    outgoing           BOOLEAN,
    datetime           TIMESTAMPTZ NOT NULL,
    network            TEXT,
    msisdn             TEXT COLLATE "C" NOT NULL,
    msisdn_counterpart TEXT COLLATE "C",
    location_id        TEXT,
    imsi               TEXT COLLATE "C",
    imei               TEXT COLLATE "C",
    tac                NUMERIC(8),
    operator_code      NUMERIC,
    country_code       NUMERIC
) PARTITION BY RANGE (datetime);

CREATE TABLE events.mds (
    id              TEXT,
    datetime        TIMESTAMPTZ NOT NULL,
    duration        NUMERIC,
    volume_total    NUMERIC,
    volume_upload   NUMERIC,
    volume_download NUMERIC,
    msisdn          TEXT COLLATE "C" NOT NULL,
    location_id     TEXT,
    imsi            TEXT COLLATE "C",
    imei            TEXT COLLATE "C",
    tac             NUMERIC(8),
    operator_code   NUMERIC,
    country_code    NUMERIC
) PARTITION BY RANGE (datetime);

CREATE TABLE events.topups (
    id                 TEXT,
    datetime           TIMESTAMPTZ NOT NULL,
    type               TEXT,
    recharge_amount    NUMERIC,
    airtime_fee        NUMERIC,
    tax_and_fee        NUMERIC,
    pre_event_balance  NUMERIC,
    post_event_balance NUMERIC,
    msisdn             TEXT COLLATE "C" NOT NULL,
    location_id        TEXT,
    imsi               TEXT COLLATE "C",
    imei               TEXT COLLATE "C",
    tac                NUMERIC(8),
    operator_code      NUMERIC,
    country_code       NUMERIC
) PARTITION BY RANGE (datetime);

CREATE TABLE events.location_ids (
    location_id      TEXT NOT NULL,
    cdr_type         TEXT NOT NULL,
    first_active_date DATE,
    last_active_date  DATE,
    PRIMARY KEY (location_id, cdr_type)
);

INSERT INTO public.available_tables (table_name)
VALUES ('calls'), ('forwards'), ('sms'), ('mds'), ('topups'), ('location_ids');

-- ---------------------------------------------------------------------------------------------------------
-- infrastructure: versioned sites and cells, handset models
-- ---------------------------------------------------------------------------------------------------------
CREATE TABLE infrastructure.sites (
    site_id               BIGSERIAL PRIMARY KEY,
    id                    TEXT NOT NULL,
    version               INTEGER NOT NULL DEFAULT 0,
    name                  TEXT,
    type                  TEXT,
    status                TEXT,
    structure_type        TEXT,
    is_cow                BOOLEAN,
    date_of_first_service DATE,
    date_of_last_service  DATE,
    last_updated          DATE,
    first_added           DATE,
    geom_point            geometry(POINT, 4326),
    geom_polygon          geometry(MULTIPOLYGON, 4326),
    UNIQUE (id, version)
);
CREATE INDEX sites_id_idx ON infrastructure.sites (id);
CREATE INDEX sites_geom_point_idx ON infrastructure.sites USING gist (geom_point);
CREATE INDEX sites_geom_polygon_idx ON infrastructure.sites USING gist (geom_polygon);

CREATE TABLE infrastructure.cells (
    cell_id               BIGSERIAL PRIMARY KEY,
    id                    TEXT NOT NULL,
    version               INTEGER NOT NULL DEFAULT 0,
    site_id               TEXT,
    name                  TEXT,
    type                  TEXT,
    msc                   TEXT,
    bsc_rnc               TEXT,
    antenna_type          TEXT,
    status                TEXT,
    lac                   TEXT,
    height                NUMERIC,
    azimuth               NUMERIC,
    transmitter           TEXT,
    max_range             NUMERIC,
    min_range             NUMERIC,
    electrical_tilt       NUMERIC,
    mechanical_downtilt   NUMERIC,
    date_of_first_service DATE,
    date_of_last_service  DATE,
    last_updated          DATE,
    first_added           DATE,
    geom_point            geometry(POINT, 4326),
    geom_polygon          geometry(MULTIPOLYGON, 4326),
    UNIQUE (id, version)
);
CREATE INDEX cells_id_idx ON infrastructure.cells (id);
CREATE INDEX cells_site_id_idx ON infrastructure.cells (site_id);
CREATE INDEX cells_geom_point_idx ON infrastructure.cells USING gist (geom_point);
CREATE INDEX cells_geom_polygon_idx ON infrastructure.cells USING gist (geom_polygon);

CREATE TABLE infrastructure.tacs (
    id                 NUMERIC(8) PRIMARY KEY,
    brand              TEXT,
    model              TEXT,
    width              NUMERIC,
    height             NUMERIC,
    depth              NUMERIC,
    weight             NUMERIC,
    display_type       TEXT,
    display_colors     BOOLEAN,
    display_width      NUMERIC,
    display_height     NUMERIC,
    hardware_gprs      BOOLEAN,
    hardware_edge      BOOLEAN,
    hardware_umts      BOOLEAN,
    hardware_wifi      BOOLEAN,
    hardware_bluetooth BOOLEAN,
    hardware_gps       BOOLEAN,
    software_os_vendor TEXT,
    software_os_name   TEXT,
    software_os_version TEXT,
    hnd_type           TEXT
);

-- ---------------------------------------------------------------------------------------------------------
-- geography: administrative boundaries, one table per level
-- ---------------------------------------------------------------------------------------------------------
CREATE TABLE geography.admin0 (
    gid        SERIAL PRIMARY KEY,
    admin0pcod TEXT NOT NULL UNIQUE,
    admin0name TEXT NOT NULL,
    geom       geometry(MULTIPOLYGON, 4326) NOT NULL
);
CREATE TABLE geography.admin1 (
    gid        SERIAL PRIMARY KEY,
    admin1pcod TEXT NOT NULL UNIQUE,
    admin1name TEXT NOT NULL,
    admin0pcod TEXT,
    geom       geometry(MULTIPOLYGON, 4326) NOT NULL
);
CREATE TABLE geography.admin2 (
    gid        SERIAL PRIMARY KEY,
    admin2pcod TEXT NOT NULL UNIQUE,
    admin2name TEXT NOT NULL,
    admin1pcod TEXT,
    admin0pcod TEXT,
    geom       geometry(MULTIPOLYGON, 4326) NOT NULL
);
CREATE TABLE geography.admin3 (
    gid        SERIAL PRIMARY KEY,
    admin3pcod TEXT NOT NULL UNIQUE,
    admin3name TEXT NOT NULL,
    admin2pcod TEXT,
    admin1pcod TEXT,
    admin0pcod TEXT,
    geom       geometry(MULTIPOLYGON, 4326) NOT NULL
);
CREATE INDEX admin0_geom_idx ON geography.admin0 USING gist (geom);
CREATE INDEX admin1_geom_idx ON geography.admin1 USING gist (geom);
CREATE INDEX admin2_geom_idx ON geography.admin2 USING gist (geom);
CREATE INDEX admin3_geom_idx ON geography.admin3 USING gist (geom);

-- ---------------------------------------------------------------------------------------------------------
-- etl: ingestion records, QA results, available dates
-- ---------------------------------------------------------------------------------------------------------
CREATE TABLE etl.etl_records (
    id        SERIAL PRIMARY KEY,
    cdr_type  VARCHAR NOT NULL,
    cdr_date  DATE NOT NULL,
    state     VARCHAR NOT NULL,
    timestamp TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX etl_records_type_date_idx ON etl.etl_records (cdr_type, cdr_date, timestamp DESC);

CREATE TABLE etl.post_etl_queries (
    id                             SERIAL PRIMARY KEY,
    cdr_date                       DATE,
    cdr_type                       TEXT,
    type_of_query_or_check         TEXT,
    outcome                        TEXT,
    optional_comment_or_description TEXT,
    timestamp                      TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The latest state of each (cdr_type, cdr_date); ties on timestamp go to the later row.
CREATE VIEW etl.ingest_state AS
SELECT DISTINCT ON (cdr_type, cdr_date) cdr_type, cdr_date, state, timestamp
FROM etl.etl_records
ORDER BY cdr_type, cdr_date, timestamp DESC, id DESC;

CREATE VIEW etl.available_dates AS
SELECT cdr_type, cdr_date FROM etl.ingest_state WHERE state = 'ingested';

CREATE VIEW etl.deduped_post_etl_queries AS
SELECT DISTINCT ON (q.cdr_date, q.cdr_type, q.type_of_query_or_check) q.*
FROM etl.post_etl_queries q
JOIN etl.available_dates a ON a.cdr_type = q.cdr_type AND a.cdr_date = q.cdr_date
ORDER BY q.cdr_date, q.cdr_type, q.type_of_query_or_check, q.timestamp DESC, q.id DESC;

-- ---------------------------------------------------------------------------------------------------------
-- cache: FlowMachine's result cache bookkeeping (result tables are cache.x<query_id>)
-- ---------------------------------------------------------------------------------------------------------
CREATE TABLE cache.cached (
    query_id               VARCHAR PRIMARY KEY,
    version                VARCHAR,
    query                  TEXT,
    created                TIMESTAMPTZ,
    access_count           INTEGER,
    last_accessed          TIMESTAMPTZ,
    compute_time           NUMERIC,
    cache_score_multiplier NUMERIC,
    class                  VARCHAR,
    schema                 VARCHAR,
    tablename              VARCHAR,
    obj                    BYTEA
);

CREATE TABLE cache.dependencies (
    query_id   VARCHAR NOT NULL REFERENCES cache.cached (query_id) ON DELETE CASCADE,
    depends_on VARCHAR NOT NULL REFERENCES cache.cached (query_id) ON DELETE CASCADE,
    PRIMARY KEY (depends_on, query_id)
);

CREATE TABLE cache.cache_config (
    key   TEXT PRIMARY KEY,
    value TEXT
);
INSERT INTO cache.cache_config (key, value) VALUES
    ('half_life', '1000'), ('cache_size', NULL), ('cache_protected_period', '86400');

CREATE SEQUENCE cache.cache_touches START 1;

CREATE FUNCTION public.cache_half_life() RETURNS NUMERIC
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, cache AS $$
    SELECT value::numeric FROM cache.cache_config WHERE key = 'half_life'
$$;

CREATE FUNCTION public.cache_max_size() RETURNS BIGINT
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, cache AS $$
    SELECT value::bigint FROM cache.cache_config WHERE key = 'cache_size'
$$;

CREATE FUNCTION public.cache_protected_period() RETURNS BIGINT
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, cache AS $$
    SELECT value::bigint FROM cache.cache_config WHERE key = 'cache_protected_period'
$$;

CREATE FUNCTION public.table_size(tablename TEXT, table_schema TEXT) RETURNS DOUBLE PRECISION
LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
    SELECT pg_total_relation_size(c.oid)::double precision
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relname = tablename AND n.nspname = table_schema AND c.relkind = 'r'
$$;

CREATE FUNCTION public.cache_score(cache_score_multiplier NUMERIC, compute_time NUMERIC, tablesize DOUBLE PRECISION)
RETURNS DOUBLE PRECISION LANGUAGE sql IMMUTABLE AS $$
    SELECT (cache_score_multiplier * (compute_time / 1000) / tablesize)::double precision
$$;

CREATE FUNCTION public.touch_cache(touched_query_id TEXT) RETURNS DOUBLE PRECISION
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, cache AS $$
DECLARE
    score DOUBLE PRECISION;
BEGIN
    UPDATE cache.cached c SET
        last_accessed = now(),
        access_count = coalesce(c.access_count, 0) + 1,
        cache_score_multiplier = CASE WHEN c.class = 'Table' THEN 0
            ELSE coalesce(c.cache_score_multiplier, 0)
                 + power(1 + ln(2) / public.cache_half_life(), nextval('cache.cache_touches') - 2)
            END
    WHERE c.query_id = touched_query_id
    RETURNING public.cache_score(c.cache_score_multiplier, c.compute_time,
                                 greatest(public.table_size(c.tablename, c.schema), 0.00001))
    INTO score;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'Cache record % not found', touched_query_id;
    END IF;
    RETURN score;
END
$$;

-- Any table created in the cache schema belongs to flowmachine, whoever created it, so FlowMachine can evict it.
CREATE FUNCTION public.trg_create_in_cache_set_owner_to_flowmachine() RETURNS event_trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
    obj record;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'flowmachine') THEN
        RETURN;
    END IF;
    FOR obj IN SELECT * FROM pg_event_trigger_ddl_commands()
               WHERE schema_name = 'cache' AND object_type = 'table'
    LOOP
        EXECUTE format('ALTER TABLE %s OWNER TO flowmachine', obj.object_identity);
    END LOOP;
END
$$;

CREATE EVENT TRIGGER trg_create_in_cache_set_owner_to_flowmachine ON ddl_command_end
WHEN TAG IN ('CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO')
EXECUTE FUNCTION public.trg_create_in_cache_set_owner_to_flowmachine();

-- ---------------------------------------------------------------------------------------------------------
-- utilities FlowMachine and analysts call
-- ---------------------------------------------------------------------------------------------------------
CREATE FUNCTION public.close_all_connections() RETURNS BIGINT
LANGUAGE sql VOLATILE SET search_path = pg_catalog AS $$
    SELECT count(pg_terminate_backend(pid))
    FROM pg_stat_activity WHERE datname = 'flowdb' AND pid <> pg_backend_pid()
$$;

CREATE FUNCTION public.isnumeric(text) RETURNS BOOLEAN
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
BEGIN
    PERFORM $1::numeric;
    RETURN true;
EXCEPTION WHEN others THEN
    RETURN false;
END
$$;

CREATE FUNCTION public.long_running_queries()
RETURNS TABLE (pid INTEGER, duration INTERVAL, query TEXT, state TEXT)
LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
    SELECT a.pid, now() - a.query_start, a.query, a.state
    FROM pg_stat_activity a
    WHERE a.state <> 'idle' AND now() - a.query_start > interval '5 minutes'
$$;

CREATE FUNCTION public.median_final(anycompatiblearray) RETURNS DOUBLE PRECISION
LANGUAGE sql IMMUTABLE AS $$
    WITH v AS (SELECT x::double precision AS x FROM unnest($1) x WHERE x IS NOT NULL),
         n AS (SELECT count(*) AS n FROM v)
    SELECT avg(x) FROM (
        SELECT x FROM v ORDER BY x
        OFFSET greatest((SELECT (n - 1) / 2 FROM n), 0)
        LIMIT (SELECT CASE WHEN n % 2 = 0 THEN 2 ELSE 1 END FROM n)
    ) mid
$$;

CREATE AGGREGATE public.median(anycompatible) (
    SFUNC = array_append,
    STYPE = anycompatiblearray,
    FINALFUNC = public.median_final,
    INITCOND = '{}'
);

-- n distinct integers from 1..max_val in a random order that is repeatable for the same seed, without
-- disturbing the session's own random stream.
CREATE FUNCTION public.random_ints(seed DOUBLE PRECISION, n_samples INTEGER, max_val INTEGER)
RETURNS SETOF INTEGER LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    restore DOUBLE PRECISION := random() * 2 - 1;
BEGIN
    PERFORM setseed(seed);
    RETURN QUERY
        SELECT s.i FROM (
            SELECT i, random() AS r FROM generate_series(1, max_val) AS i
        ) s ORDER BY s.r, s.i LIMIT n_samples;
    PERFORM setseed(restore);
END
$$;

-- Knuth's product-of-uniforms Poisson sampler; e^-lambda is applied in steps of 500 to avoid underflow.
CREATE FUNCTION public.random_poisson(lambda DOUBLE PRECISION DEFAULT 1.0) RETURNS INTEGER
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    remaining DOUBLE PRECISION := lambda;
    k INTEGER := 0;
    p DOUBLE PRECISION := 1.0;
    step CONSTANT DOUBLE PRECISION := 500;
BEGIN
    LOOP
        k := k + 1;
        p := p * random();
        WHILE p < 1 AND remaining > 0 LOOP
            IF remaining > step THEN
                p := p * exp(step);
                remaining := remaining - step;
            ELSE
                p := p * exp(remaining);
                remaining := 0;
            END IF;
        END LOOP;
        EXIT WHEN p <= 1;
    END LOOP;
    RETURN k - 1;
END
$$;

-- A uniformly random non-NULL element; NULL for an empty or all-NULL array.
CREATE FUNCTION public.random_pick(arr anyarray) RETURNS anyelement
LANGUAGE sql VOLATILE AS $$
    SELECT x FROM unnest(arr) AS x WHERE x IS NOT NULL ORDER BY random() LIMIT 1
$$;
