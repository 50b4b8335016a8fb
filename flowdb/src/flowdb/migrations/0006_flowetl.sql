-- FlowETL: why a load failed, rows set aside, available dates that survive a failed reload, and partitions
-- that FlowETL's role may replace.

-- Why an etl_records row was written (NULL for FlowKit's plain 'ingested' rows).
ALTER TABLE etl.etl_records ADD COLUMN IF NOT EXISTS detail TEXT;

-- A day is available when its latest *data* state is 'ingested'. A 'failed' row records an attempt that changed
-- nothing (the previous partition, if any, is still attached), so it must not hide an earlier successful load.
-- etl.ingest_state still shows the latest row of any kind (what `flowetl status` reports).
CREATE OR REPLACE VIEW etl.available_dates AS
SELECT cdr_type, cdr_date
FROM (
    SELECT DISTINCT ON (cdr_type, cdr_date) cdr_type, cdr_date, state
    FROM etl.etl_records
    WHERE state <> 'failed'
    ORDER BY cdr_type, cdr_date, timestamp DESC, id DESC
) latest
WHERE state = 'ingested';

-- Malformed input FlowETL met: one row per problem (a whole-file problem, or one bad row with its number and
-- raw content). Rows are never deleted by FlowETL.
CREATE TABLE IF NOT EXISTS etl.quarantine (
    id         BIGSERIAL PRIMARY KEY,
    cdr_type   TEXT NOT NULL,
    cdr_date   DATE NOT NULL,
    reason     TEXT NOT NULL,
    detail     TEXT,
    row_number BIGINT,
    raw        TEXT,
    recorded   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS quarantine_type_date_idx ON etl.quarantine (cdr_type, cdr_date, recorded);

-- Every partitioned table in `events` and each of its partitions belongs to the role `events_owner` (created,
-- and made the owner of what exists, by `flowdb start`; see flowdb/roles.py). PostgreSQL lets only the owner
-- attach or drop partitions, so a partition made by any loader (the superuser's synthetic data included) is
-- re-owned as soon as it is attached, and FlowETL's role, a member of events_owner, can replace it later.
CREATE OR REPLACE FUNCTION public.trg_events_partitions_owned_by_events_owner() RETURNS event_trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
    obj record;
    part record;
    owner_oid oid;
BEGIN
    SELECT oid INTO owner_oid FROM pg_roles WHERE rolname = 'events_owner';
    IF owner_oid IS NULL THEN
        RETURN;
    END IF;
    FOR obj IN SELECT * FROM pg_event_trigger_ddl_commands()
               WHERE schema_name = 'events' AND object_type = 'table'
    LOOP
        FOR part IN SELECT c.oid FROM pg_class c
                    WHERE (c.oid = obj.objid AND c.relkind = 'p'
                           OR c.oid IN (SELECT i.inhrelid FROM pg_inherits i WHERE i.inhparent = obj.objid))
                      AND c.relowner <> owner_oid
        LOOP
            EXECUTE format('ALTER TABLE %s OWNER TO events_owner', part.oid::regclass);
        END LOOP;
    END LOOP;
END
$$;

DROP EVENT TRIGGER IF EXISTS trg_events_partitions_owned_by_events_owner;
CREATE EVENT TRIGGER trg_events_partitions_owned_by_events_owner ON ddl_command_end
WHEN TAG IN ('CREATE TABLE', 'ALTER TABLE')
EXECUTE FUNCTION public.trg_events_partitions_owned_by_events_owner();
