/**
 * The SQL of PostgreSQL's trigger-based change capture (`cdc: triggers`):
 * the change-log schema, the one generic trigger function, and the
 * statements that order committed transactions. docs/realtime.md
 * ("PostgreSQL without replication rights") explains the design; the
 * feed that runs these statements is trigger-feed.ts.
 *
 * Everything lives in the schema `syncline`:
 * - `changes`: one row per row change, written by the trigger: the entity,
 *   the operation, the rows before and after as record text, the writer's
 *   top-level transaction id and the time of the change.
 * - `commits`: one row per transaction that wrote changes, numbered (`pos`)
 *   in the order syncline saw the transactions commit. Positions are
 *   `(pos, seq)`: a change's transaction's number, then its own sequence.
 * - `horizon`: the snapshot of the last numbering round.
 * - `consumers`: each consumer's acknowledged position per entity.
 */

/** The schema that holds the change log. */
export const CHANGE_LOG_SCHEMA = 'syncline'

/** The NOTIFY channel the trigger signals on (payload: the entity). */
export const CHANGE_CHANNEL = 'syncline_changes'

/** The name of the row trigger syncline creates on each captured table. */
export const TRIGGER_NAME = 'syncline_capture'

/** The name of its statement trigger that turns a TRUNCATE into row deletes. */
export const TRUNCATE_TRIGGER_NAME = 'syncline_capture_truncate'

/** The name of its statement trigger that wakes feeds (NOTIFY once per statement). */
export const NOTIFY_TRIGGER_NAME = 'syncline_notify'

/** A `seq` beyond every real one: position `(pos, WHOLE)` is "after all of transaction pos". */
export const WHOLE_TRANSACTION = '9223372036854775807'

/**
 * Create the schema, tables and trigger function if missing. Idempotent, so
 * every feed may run it; the first run needs CREATE on the database.
 *
 * The capture functions are SECURITY DEFINER so the application's own
 * users, who write the tables, need no privilege on the change log (and
 * cannot forge entries in it); their search_path is pinned as that
 * requires. Their SET clauses make the record text independent of the
 * writer's session: dates in ISO order (so a timestamptz carries a numeric
 * UTC offset and reads back as the same instant whatever the writer's
 * TimeZone), floats with every digit, intervals in the style the reader
 * parses. Each SET clause costs per row, so only those that change what
 * the text means are there (bytea input reads hex and escape alike). It logs whether or not the entity
 * has a consumer: a check would read the consumers table in the writer's
 * snapshot, and a REPEATABLE READ writer whose snapshot predates a new
 * consumer would then skip changes that no snapshot holds either.
 */
export const INSTALL_CHANGE_LOG = `
CREATE SCHEMA IF NOT EXISTS syncline;
CREATE TABLE IF NOT EXISTS syncline.changes (
  seq bigserial PRIMARY KEY,
  entity text NOT NULL,
  op "char" NOT NULL,
  xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
  changed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  new_row text,
  old_row text
);
CREATE INDEX IF NOT EXISTS changes_xid ON syncline.changes (xid, entity, seq);
CREATE TABLE IF NOT EXISTS syncline.commits (
  pos bigserial PRIMARY KEY,
  xid xid8 NOT NULL UNIQUE,
  last_seq bigint NOT NULL,
  last_change_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS syncline.horizon (
  only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  snap pg_snapshot NOT NULL
);
INSERT INTO syncline.horizon (snap) VALUES (pg_current_snapshot()) ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS syncline.consumers (
  consumer text NOT NULL,
  entity text NOT NULL,
  pos bigint NOT NULL,
  seq bigint NOT NULL,
  skip_snapshot pg_snapshot,
  created_at timestamptz NOT NULL DEFAULT now(),
  acked_at timestamptz,
  PRIMARY KEY (consumer, entity)
);
CREATE INDEX IF NOT EXISTS consumers_entity ON syncline.consumers (entity);
CREATE OR REPLACE FUNCTION syncline.capture() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  SET "DateStyle" = 'ISO, YMD' SET "IntervalStyle" = 'postgres' SET extra_float_digits = 3
AS $fn$
BEGIN
  -- TG_ARGV[0]: the entity, fixed when the trigger was created (format() per row cost 30%).
  INSERT INTO syncline.changes (entity, op, new_row, old_row)
  VALUES (TG_ARGV[0], left(TG_OP, 1),
          CASE WHEN TG_OP <> 'DELETE' THEN NEW::text END,
          CASE WHEN TG_OP <> 'INSERT' THEN OLD::text END);
  RETURN NULL;
END
$fn$;
CREATE OR REPLACE FUNCTION syncline.capture_truncate() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  SET "DateStyle" = 'ISO, YMD' SET "IntervalStyle" = 'postgres' SET extra_float_digits = 3
AS $fn$
BEGIN
  -- TRUNCATE fires no row triggers: log a delete of every row it removes.
  EXECUTE format('INSERT INTO syncline.changes (entity, op, old_row) SELECT $1, %L, t::text FROM %I.%I t', 'D', TG_TABLE_SCHEMA, TG_TABLE_NAME)
    USING TG_ARGV[0];
  RETURN NULL;
END
$fn$;
CREATE OR REPLACE FUNCTION syncline.notify_changes() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  -- Once per statement, not per row; delivered at commit, and identical
  -- payloads of one transaction fold into one.
  PERFORM pg_notify('${CHANGE_CHANNEL}', TG_ARGV[0]);
  RETURN NULL;
END
$fn$;
`

/**
 * One numbering round: every transaction that committed since the last
 * round's snapshot gets the next `pos`, in the order of its last change.
 * Run it in a READ COMMITTED transaction right after {@link LOCK_HORIZON},
 * so its snapshot is taken after the previous round committed: a
 * transaction is numbered exactly when it became visible between two
 * rounds' snapshots (pgq's "tick" idea). Why the last change orders
 * transactions of one round: a transaction that waited for another's row
 * lock wrote that row's change after the other committed, so its last
 * change comes after all of the other's; every pair that touched the same
 * row is ordered as it committed.
 */
export const NUMBER_COMMITS = `
WITH prev AS (SELECT snap FROM syncline.horizon),
fresh AS (
  SELECT c.xid, max(c.seq) AS last_seq, max(c.changed_at) AS last_at
    FROM syncline.changes c, prev
   WHERE c.xid >= pg_snapshot_xmin(prev.snap) AND NOT pg_visible_in_snapshot(c.xid, prev.snap)
   GROUP BY c.xid
),
numbered AS (
  INSERT INTO syncline.commits (xid, last_seq, last_change_at)
  SELECT xid, last_seq, last_at FROM fresh ORDER BY last_seq
  ON CONFLICT (xid) DO NOTHING
  RETURNING pos
),
moved AS (UPDATE syncline.horizon SET snap = pg_current_snapshot())
SELECT count(*)::int AS numbered FROM numbered`

/** Serialises numbering rounds (held until the round commits). */
export const LOCK_HORIZON = 'LOCK TABLE syncline.horizon IN EXCLUSIVE MODE'

/** The quoted `schema.table` the trigger records for a table, as SQL taking `$1` schema and `$2` table. */
export const ENTITY_KEY = `format('%I.%I', $1::text, $2::text)`
