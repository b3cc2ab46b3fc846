/**
 * The state database's tables, as an ordered list of migrations both stores
 * apply: SQLite in its own file, PostgreSQL in the `syncline` schema.
 *
 * Rules for adding state (conflicts, two-way base hashes, CDC positions…):
 * append a migration with the next version, write every statement with
 * `IF NOT EXISTS` so a half-applied migration can simply run again, never
 * change or drop what an earlier version created (an older syncline may still
 * read the same database), and list any new table that is keyed by sync in
 * {@link SYNC_SCOPED_TABLES} so `forgetSync` clears it.
 *
 * Values the engine resumes from are stored as text written by
 * `encodeStateValue`; times as the ISO strings the engine passes, which sort
 * in time order (in PostgreSQL with `COLLATE "C"`, so no locale reorders them).
 */

/** One step of the state schema. */
export interface StateMigration {
  version: number
  description: string
  /** Statements for SQLite, run in one transaction. */
  sqlite: string[]
  /** Statements for PostgreSQL, given the quoted schema name (`"syncline"`). */
  postgres: (schema: string) => string[]
}

/**
 * Every migration, oldest first, versions increasing. The stores apply every
 * version they have not recorded yet (not only those above the highest), so
 * migrations written on parallel branches land whatever order they merge in.
 */
export const STATE_MIGRATIONS: readonly StateMigration[] = [
  {
    version: 1,
    description: 'watermarks, runs, record errors',
    sqlite: [
      `CREATE TABLE IF NOT EXISTS watermarks (
        sync_id TEXT PRIMARY KEY,
        cursor_value TEXT NOT NULL,
        key_values TEXT,
        updated_at TEXT NOT NULL
      )`,
      `CREATE TABLE IF NOT EXISTS runs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL UNIQUE,
        sync_id TEXT NOT NULL,
        mode TEXT NOT NULL,
        status TEXT NOT NULL,
        dry_run INTEGER NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        duration_ms INTEGER,
        read INTEGER NOT NULL, created INTEGER NOT NULL, updated INTEGER NOT NULL, deleted INTEGER NOT NULL,
        unchanged INTEGER NOT NULL, failed INTEGER NOT NULL, conflicts INTEGER NOT NULL,
        error TEXT
      )`,
      `CREATE INDEX IF NOT EXISTS runs_by_sync ON runs (sync_id, started_at)`,
      `CREATE INDEX IF NOT EXISTS runs_by_start ON runs (started_at)`,
      `CREATE TABLE IF NOT EXISTS record_errors (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL,
        sync_id TEXT NOT NULL,
        operation TEXT NOT NULL,
        record_id TEXT NOT NULL,
        record TEXT NOT NULL,
        reason TEXT NOT NULL,
        at TEXT NOT NULL
      )`,
      `CREATE INDEX IF NOT EXISTS record_errors_by_sync ON record_errors (sync_id, at)`,
      `CREATE INDEX IF NOT EXISTS record_errors_by_run ON record_errors (run_id, at)`,
    ],
    postgres: (s) => [
      `CREATE TABLE IF NOT EXISTS ${s}.watermarks (
        sync_id text COLLATE "C" PRIMARY KEY,
        cursor_value text NOT NULL,
        key_values text,
        updated_at text NOT NULL
      )`,
      `CREATE TABLE IF NOT EXISTS ${s}.runs (
        seq bigserial PRIMARY KEY,
        run_id text NOT NULL UNIQUE,
        sync_id text COLLATE "C" NOT NULL,
        mode text NOT NULL,
        status text NOT NULL,
        dry_run boolean NOT NULL,
        started_at text COLLATE "C" NOT NULL,
        finished_at text,
        duration_ms bigint,
        read bigint NOT NULL, created bigint NOT NULL, updated bigint NOT NULL, deleted bigint NOT NULL,
        unchanged bigint NOT NULL, failed bigint NOT NULL, conflicts bigint NOT NULL,
        error text
      )`,
      `CREATE INDEX IF NOT EXISTS runs_by_sync ON ${s}.runs (sync_id, started_at)`,
      `CREATE INDEX IF NOT EXISTS runs_by_start ON ${s}.runs (started_at)`,
      `CREATE TABLE IF NOT EXISTS ${s}.record_errors (
        seq bigserial PRIMARY KEY,
        run_id text NOT NULL,
        sync_id text COLLATE "C" NOT NULL,
        operation text NOT NULL,
        record_id text NOT NULL,
        record text NOT NULL,
        reason text NOT NULL,
        at text COLLATE "C" NOT NULL
      )`,
      `CREATE INDEX IF NOT EXISTS record_errors_by_sync ON ${s}.record_errors (sync_id, at)`,
      `CREATE INDEX IF NOT EXISTS record_errors_by_run ON ${s}.record_errors (run_id, at)`,
    ],
  },
  {
    version: 2,
    description: 'sync facts (what the last successful run delivered), run notes',
    // SQLite has no ADD COLUMN IF NOT EXISTS; the migration runs in one
    // transaction with its schema_version row, so it never half-applies.
    sqlite: [
      `CREATE TABLE IF NOT EXISTS sync_facts (
        sync_id TEXT PRIMARY KEY,
        source_connection TEXT NOT NULL,
        source_entity TEXT NOT NULL,
        destination_connection TEXT NOT NULL,
        destination_entity TEXT NOT NULL,
        destination_rows INTEGER,
        mapped_fields TEXT NOT NULL,
        source_fields TEXT NOT NULL,
        updated_at TEXT NOT NULL
      )`,
      `ALTER TABLE runs ADD COLUMN notes TEXT`,
    ],
    postgres: (s) => [
      `CREATE TABLE IF NOT EXISTS ${s}.sync_facts (
        sync_id text COLLATE "C" PRIMARY KEY,
        source_connection text NOT NULL,
        source_entity text NOT NULL,
        destination_connection text NOT NULL,
        destination_entity text NOT NULL,
        destination_rows bigint,
        mapped_fields text NOT NULL,
        source_fields text NOT NULL,
        updated_at text NOT NULL
      )`,
      `ALTER TABLE ${s}.runs ADD COLUMN IF NOT EXISTS notes text`,
    ],
  },
  {
    version: 3,
    description: 'run locks: one run of a sync at a time',
    sqlite: [
      // One row per sync while a run holds it; `pid` and `host` tell whether
      // the holder still lives, `heartbeat_at` (refreshed while it runs) when
      // it lives on another machine.
      `CREATE TABLE IF NOT EXISTS run_locks (
        sync_id TEXT PRIMARY KEY,
        run_id TEXT NOT NULL,
        pid INTEGER NOT NULL,
        host TEXT NOT NULL,
        acquired_at TEXT NOT NULL,
        heartbeat_at TEXT NOT NULL
      )`,
      // Runs still marked running are looked up on every open.
      `CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status)`,
    ],
    postgres: (s) => [
      `CREATE TABLE IF NOT EXISTS ${s}.run_locks (
        sync_id text COLLATE "C" PRIMARY KEY,
        run_id text NOT NULL,
        pid integer NOT NULL,
        host text NOT NULL,
        acquired_at text COLLATE "C" NOT NULL,
        heartbeat_at text COLLATE "C" NOT NULL
      )`,
      `CREATE INDEX IF NOT EXISTS runs_by_status ON ${s}.runs (status)`,
    ],
  },
  {
    version: 4,
    description: 'change-feed positions of realtime syncs',
    // One row per realtime sync: where its stream resumes, saved only after
    // the destination committed everything up to it. `committed_at` is the
    // source commit time of the last change applied (for lag in status).
    sqlite: [
      `CREATE TABLE IF NOT EXISTS feed_positions (
        sync_id TEXT PRIMARY KEY,
        consumer TEXT NOT NULL,
        connection TEXT NOT NULL,
        entity TEXT NOT NULL,
        position TEXT NOT NULL,
        committed_at TEXT,
        updated_at TEXT NOT NULL
      )`,
    ],
    postgres: (s) => [
      `CREATE TABLE IF NOT EXISTS ${s}.feed_positions (
        sync_id text COLLATE "C" PRIMARY KEY,
        consumer text NOT NULL,
        connection text NOT NULL,
        entity text NOT NULL,
        position text NOT NULL,
        committed_at text,
        updated_at text NOT NULL
      )`,
    ],
  },
  {
    version: 5,
    description: 'watch consumers: which ended watches keep a change feed, and since when',
    // One row per watch consumer (docs/realtime.md "Decisions"): `released_at`
    // is NULL while a watch reads it and the time it ended otherwise; a
    // consumer released longer than the retention is dropped at the source.
    // Keyed by connection, not by sync: watches belong to no sync.
    sqlite: [
      `CREATE TABLE IF NOT EXISTS watch_consumers (
        connection TEXT NOT NULL,
        consumer TEXT NOT NULL,
        entity TEXT NOT NULL,
        released_at TEXT,
        PRIMARY KEY (connection, consumer)
      )`,
    ],
    postgres: (s) => [
      `CREATE TABLE IF NOT EXISTS ${s}.watch_consumers (
        connection text COLLATE "C" NOT NULL,
        consumer text COLLATE "C" NOT NULL,
        entity text NOT NULL,
        released_at text COLLATE "C",
        PRIMARY KEY (connection, consumer)
      )`,
    ],
  },
  {
    version: 6,
    description: 'two-way sync: base hashes, the destination watermark, conflicts',
    sqlite: [
      // WITHOUT ROWID: the primary key is the row, so a key costs its bytes once (docs/two-way.md measures it).
      `CREATE TABLE IF NOT EXISTS two_way_base (
        sync_id TEXT NOT NULL,
        key BLOB NOT NULL,
        hash BLOB,
        fields BLOB,
        pending BLOB,
        PRIMARY KEY (sync_id, key)
      ) WITHOUT ROWID`,
      `CREATE TABLE IF NOT EXISTS two_way_watermarks (
        sync_id TEXT NOT NULL,
        side TEXT NOT NULL,
        cursor_value TEXT NOT NULL,
        key_values TEXT,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (sync_id, side)
      )`,
      `CREATE TABLE IF NOT EXISTS conflicts (
        id TEXT PRIMARY KEY,
        sync_id TEXT NOT NULL,
        record_id TEXT NOT NULL,
        key_values TEXT NOT NULL,
        kind TEXT NOT NULL,
        source_row TEXT,
        destination_row TEXT,
        base TEXT NOT NULL,
        detected_at TEXT NOT NULL,
        resolved_at TEXT,
        resolution TEXT
      )`,
      // One open conflict per record: a conflict seen again is updated, not added.
      `CREATE UNIQUE INDEX IF NOT EXISTS conflicts_open ON conflicts (sync_id, record_id) WHERE resolved_at IS NULL`,
      `CREATE INDEX IF NOT EXISTS conflicts_by_sync ON conflicts (sync_id, detected_at)`,
    ],
    postgres: (s) => [
      `CREATE TABLE IF NOT EXISTS ${s}.two_way_base (
        sync_id text COLLATE "C" NOT NULL,
        key bytea NOT NULL,
        hash bytea,
        fields bytea,
        pending bytea,
        PRIMARY KEY (sync_id, key)
      )`,
      `CREATE TABLE IF NOT EXISTS ${s}.two_way_watermarks (
        sync_id text COLLATE "C" NOT NULL,
        side text NOT NULL,
        cursor_value text NOT NULL,
        key_values text,
        updated_at text NOT NULL,
        PRIMARY KEY (sync_id, side)
      )`,
      `CREATE TABLE IF NOT EXISTS ${s}.conflicts (
        id text PRIMARY KEY,
        sync_id text COLLATE "C" NOT NULL,
        record_id text NOT NULL,
        key_values text NOT NULL,
        kind text NOT NULL,
        source_row text,
        destination_row text,
        base text NOT NULL,
        detected_at text COLLATE "C" NOT NULL,
        resolved_at text,
        resolution text
      )`,
      `CREATE UNIQUE INDEX IF NOT EXISTS conflicts_open ON ${s}.conflicts (sync_id, record_id) WHERE resolved_at IS NULL`,
      `CREATE INDEX IF NOT EXISTS conflicts_by_sync ON ${s}.conflicts (sync_id, detected_at)`,
    ],
  },
  {
    version: 7,
    description: 'run attempts (retries of transient failures) and error codes',
    // Each attempt of a run is its own row; `attempt` counts them from 1.
    // Rows written before this version (or by an older syncline) were first attempts.
    sqlite: [`ALTER TABLE runs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1`, `ALTER TABLE runs ADD COLUMN error_code TEXT`],
    postgres: (s) => [
      `ALTER TABLE ${s}.runs ADD COLUMN IF NOT EXISTS attempt integer NOT NULL DEFAULT 1`,
      `ALTER TABLE ${s}.runs ADD COLUMN IF NOT EXISTS error_code text`,
    ],
  },
  {
    version: 8,
    description: 'sync facts: whether syncline created the destination (its schema drift default)',
    // 1 when `create: true` made the destination table; NULL in facts saved before this version (an existing table).
    sqlite: [`ALTER TABLE sync_facts ADD COLUMN destination_created INTEGER`],
    postgres: (s) => [`ALTER TABLE ${s}.sync_facts ADD COLUMN IF NOT EXISTS destination_created integer`],
  },
  {
    version: 9,
    description: 'watch consumers: the position acknowledged after the last delivered event',
    // docs/realtime.md "Positions": `since` the last delivered event opens the source at the position
    // acknowledged after it, with nothing delivered between. NULL until a watch acknowledges past an event.
    sqlite: [
      `ALTER TABLE watch_consumers ADD COLUMN resume_delivered TEXT`,
      `ALTER TABLE watch_consumers ADD COLUMN resume_acknowledged TEXT`,
      `ALTER TABLE watch_consumers ADD COLUMN resume_filters TEXT`,
    ],
    postgres: (s) => [
      `ALTER TABLE ${s}.watch_consumers ADD COLUMN IF NOT EXISTS resume_delivered text`,
      `ALTER TABLE ${s}.watch_consumers ADD COLUMN IF NOT EXISTS resume_acknowledged text`,
      `ALTER TABLE ${s}.watch_consumers ADD COLUMN IF NOT EXISTS resume_filters text`,
    ],
  },
]

/** The newest schema version this build knows (the highest, not the last: branches append versions in whatever order they merge). */
export const STATE_SCHEMA_VERSION = Math.max(...STATE_MIGRATIONS.map((m) => m.version))

/** Tables with a `sync_id` column: `forgetSync` deletes a sync's rows from each. */
export const SYNC_SCOPED_TABLES: readonly string[] = ['watermarks', 'runs', 'record_errors', 'sync_facts', 'run_locks', 'feed_positions', 'two_way_base', 'two_way_watermarks', 'conflicts']

/** The version bookkeeping table, created before any migration runs. */
export const SCHEMA_VERSION_TABLE = {
  sqlite: `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)`,
  postgres: (s: string) =>
    `CREATE TABLE IF NOT EXISTS ${s}.schema_version (version integer PRIMARY KEY, description text NOT NULL, applied_at text NOT NULL)`,
}
