/**
 * The connector contract: everything the engine may ask of a datasource.
 *
 * The engine never imports a database client. It talks to connectors through
 * this interface and branches on {@link Capabilities}, never on a connector's
 * name. Every connector passes the suite in `test/conformance/`.
 */
import type { SynclineError } from '../errors.js'
import type { ChangeFeed, ChangeFeedOptions, ChangeFeedStatus } from './change-feed.js'
import type { CanonicalType, EntityInfo, FieldInfo, ForeignKeyInfo, KeyValues, Row, Value } from '../values/canonical.js'

/**
 * What a connector can do; the engine chooses its strategy from these and
 * from nothing else (never from the optional methods present, never from
 * the connector's kind). Each flag has one reader in the engine, described
 * in docs/connectors.md. Default for each is `false`.
 */
export interface Capabilities {
  /**
   * Emits change events (logical replication, binlog, triggers). Read by the
   * engine before a `mode: realtime` sync: a source without it is refused
   * with a clear error (and `check` reports it).
   */
  cdc: boolean
  /**
   * `apply` is atomic: a batch lands whole or not at all. The batch writer
   * isolates a rejected record by splitting the batch in halves (each failed
   * half wrote nothing); without it, a failed batch may have landed in part,
   * so the writer re-applies its records one by one (apply is idempotent).
   */
  transactions: boolean
  /**
   * `bulkExport` streams entities in one of `bulkFormats`: a first full copy
   * from this source may go in bulk (to a destination with {@link bulkLoad}).
   */
  bulkExport: boolean
  /**
   * `bulkImport` loads one of `bulkFormats` in one transaction (COPY, LOAD
   * DATA): a first full copy into this empty destination may go in bulk.
   */
  bulkLoad: boolean
  /**
   * `scan` returns rows in key order matching {@link compareKeys}. Full sync
   * and the delete reconciliation pass merge two key-ordered scans; the
   * engine refuses them (`CAPABILITY_MISSING`) on a side without it, and an
   * incremental sync never switches to a full comparison then.
   */
  orderedKeyScan: boolean
  /**
   * `apply` stages writes that only `commit` makes visible (files written
   * whole at the end of a run); `rollback` discards them. The engine then
   * commits once after the last batch, saves the watermark only after that
   * commit, and rolls back on failure.
   */
  staging: boolean
  /**
   * `rangeChecksum` and `rangeSplit` answer per key range with a row count
   * and an order-independent checksum of the rows' canonical encodings
   * (src/values/row-checksum.ts), computed in the database where it can.
   * A full sync and `verify` whose sides both have it compare checksums
   * first and read rows only in the ranges that differ (docs/sync-semantics.md,
   * "Checksum comparison"); without it they compare every row.
   */
  rangeChecksum: boolean
}

/** The filter operators of the plan file (DESIGN §1.1). */
export const FILTER_OPERATORS = ['=', '!=', '>', '>=', '<', '<=', 'in', 'not_in', 'like', 'is_null', 'is_not_null'] as const

/** One of {@link FILTER_OPERATORS}. */
export type FilterOperator = (typeof FILTER_OPERATORS)[number]

/**
 * A filter on a source field. `value` is canonical (or an array of canonical
 * values for `in` / `not_in`), absent for `is_null` / `is_not_null`.
 * Connectors push filters down as SQL parameters, never as spliced text.
 */
export interface Filter {
  field: string
  op: FilterOperator
  value?: Value | Value[]
}

/**
 * Incremental scans order by `(cursor, key…)`. With `from.key` the scan
 * returns rows strictly after `(from.value, from.key)`; without it, rows with
 * `cursor >= from.value` (the look-back window). Rows whose cursor is NULL
 * never appear in a cursor scan: read them with an `is_null` filter.
 */
export interface CursorScan {
  field: string
  from?: { value: Value; key?: KeyValues }
}

/** What to read and in which order. */
export interface ScanOptions {
  /** Fields to return; always includes the key fields (and the cursor, if any). */
  fields: string[]
  /** Key fields: the order of a key scan and the tie-breaker of a cursor scan. */
  keys: string[]
  filters?: Filter[]
  /** Keyset pagination for key scans: only rows whose key is greater. */
  after?: KeyValues
  /** Present for incremental scans: order by cursor then key. */
  cursor?: CursorScan
  /** Rows per yielded batch. */
  batchSize: number
  signal?: AbortSignal
}

/**
 * A key range `(after, through]`: keys greater than `after` (or from the
 * first) up to and including `through` (or to the last). Both bounds are
 * keys in key order, compared as {@link compareKeys} does.
 */
export interface KeyRange {
  after?: KeyValues
  through?: KeyValues
}

/** A field a checksum covers, with the canonical type it is encoded as. */
export interface ChecksumField {
  name: string
  type: CanonicalType
}

/** What {@link Connector.rangeChecksum} and {@link Connector.rangeSplit} read. */
export interface RangeOptions {
  /** Key fields, in key order. */
  keys: string[]
  /** The canonical types of the key fields, in key order. */
  keyTypes: CanonicalType[]
  filters?: Filter[]
  range: KeyRange
  signal?: AbortSignal
}

/** Options of {@link Connector.rangeChecksum}. */
export interface RangeChecksumOptions extends RangeOptions {
  /** The fields each row's hash covers, in this order. */
  fields: ChecksumField[]
  /** The row hash function, one of both sides' {@link Connector.checksumHashes}; default `md5`. */
  hash?: string
  /** {@link Connector.rangeHashes} only: at most this many pairs, the first of the range. Default all. */
  limit?: number
}

/** Rows in a key range and the sum (mod 2^64) of their 64-bit row hashes. */
export interface RangeChecksum {
  count: number
  sum: bigint
}

/** One row's key and hash (16 hex digits of {@link RangeChecksum}'s row hash), from {@link Connector.rangeHashes}. */
export interface KeyHash {
  key: KeyValues
  hash: string
}

/**
 * A batch of {@link Connector.streamHashes}, by column so that a million
 * pairs make no million objects: pair `i` has the key values
 * `keys[i * width … (i + 1) * width - 1]` (width = the number of key fields)
 * and the row hash `hashes[i]`, folded to a number (`foldHash`,
 * src/values/row-checksum.ts) so that any two connectors' streams compare.
 */
export interface KeyHashBatch {
  keys: Value[]
  hashes: Float64Array
  /**
   * Set instead of `keys` (then empty) when the key is one integer field
   * and every key of the batch is below 2^53: pair `i`'s key is
   * `integers[i]`. A million keys then fill no array of values, and the
   * merge compares them as plain numbers ({@link batchKey} reads either form).
   */
  integers?: Float64Array
}

/** Pair `i`'s key values in a batch of keys `width` fields wide. */
export function batchKey(batch: KeyHashBatch, i: number, width: number): KeyValues {
  return batch.integers ? [batch.integers[i]!] : batch.keys.slice(i * width, (i + 1) * width)
}

/** Options of {@link Connector.rangeSplit}. */
export interface RangeSplitOptions extends RangeOptions {
  /** Into how many parts of about equal row counts. */
  parts: number
  /** Rows in the range (as `rangeChecksum` counted them). */
  rows: number
}

/** One transaction's worth of changes for one entity. */
export interface ApplyBatch {
  /** Full destination rows (every mapped field present) to insert or update. */
  upserts: Row[]
  /** Keys of rows to delete, in `keys` order. */
  deletes: KeyValues[]
}

/** Options for {@link Connector.apply}. */
export interface ApplyOptions {
  /** The destination key fields the upserts and deletes are identified by. */
  keys: string[]
  /**
   * A hint that every upsert is a new row (e.g. the destination was empty),
   * so a bulk path such as COPY may be used. Apply must still be correct,
   * i.e. idempotent, if a row exists after all.
   */
  allNew?: boolean
  /**
   * `off`: the destination does not check foreign keys while it writes this
   * batch, for the writing session only (never a server-wide setting), so
   * rows of tables that reference each other may land in any order. The
   * engine checks referential integrity itself after the run
   * ({@link Connector.findOrphans}). A connector that cannot switch them
   * off for its own session throws a config error naming the constraint and
   * the fix. Default `on`; connectors without foreign keys ignore it.
   */
  foreignKeyChecks?: ForeignKeyChecks
  signal?: AbortSignal
}

/** Whether the destination checks foreign keys while it writes: see {@link ApplyOptions.foreignKeyChecks}. */
export type ForeignKeyChecks = 'on' | 'off'

/** What {@link Connector.findOrphans} found for one foreign key. */
export interface OrphanRows {
  /** Child rows whose (non-NULL) foreign key values match no parent row. */
  count: number
  /** Up to `limit` of them, in key order: the child's primary key fields and the foreign key fields. */
  rows: Row[]
}

/** What one apply did. */
export interface ApplyResult {
  upserted: number
  deleted: number
}

/**
 * Rows as a byte stream in a connector-defined format (e.g. PostgreSQL's COPY
 * text), for a destination that reads the same format. The fastest path for
 * a first full copy: rows are never decoded into canonical values.
 */
export interface BulkExport {
  /** `postgres-copy-text`, …: a destination imports only a format it names in `bulkFormats`. */
  format: string
  /** The fields, in the order the stream carries them. */
  fields: FieldInfo[]
  stream: NodeJS.ReadableStream & AsyncIterable<Buffer>
  /**
   * With `highest` asked for: the row (cursor and key fields) with the
   * greatest `(cursor, key)` among rows whose cursor is not NULL, read in
   * the same snapshot as the stream, or null when there is none; set by the
   * time the stream has ended. An incremental sync continues from there.
   * Undefined when not asked for (or not supported: no bulk path then).
   */
  highest?: Row | null
  /**
   * Rows encoded so far (at most a chunk ahead of the stream), when the
   * exporter counts them as it encodes; the importer then reports progress
   * from it instead of counting rows in the bytes again.
   */
  readonly rows?: number
  /** How many threads read the source for the stream, when more than one (shown with the run's progress). */
  readers?: number
  /** Release the source's connection; call once the stream ended or was abandoned. */
  close(): Promise<void>
}

/** Options of {@link Connector.bulkExport}. */
export interface BulkExportOptions {
  fields: string[]
  format: string
  /**
   * Also read the highest `(cursor, key)` in the export's snapshot (see
   * {@link BulkExport.highest}); a connector that cannot returns undefined.
   */
  highest?: { cursor: string; keys: string[] }
  signal?: AbortSignal
}

/** Options of {@link Connector.bulkImport}. */
export interface BulkImportOptions {
  /** Destination field of each exported field, in the stream's order. */
  columns: string[]
  signal?: AbortSignal
  /** Called as rows arrive, with the total so far. */
  onRows?(rows: number): void
  /** As {@link ApplyOptions.foreignKeyChecks}. */
  foreignKeyChecks?: ForeignKeyChecks
  /**
   * The entity was created by this run and holds nothing yet: the connector
   * may load it before building its indexes, as a restore does, provided the
   * rows land in one transaction with them. Default false.
   */
  createdByRun?: boolean
}

/** What `check` found out about a datasource. */
export interface CheckReport {
  connection: string
  kind: string
  /** Server or library version. */
  version: string
  capabilities: Capabilities
  /** Whether change capture could run now, and if not, what to change. */
  cdc: { ready: boolean; reason?: string }
  /** Connector-specific facts worth showing (`wal_level`, file path…). */
  details: Record<string, string | number | boolean>
}

/**
 * Which physical table (or file) an entity is, whichever connection reaches
 * it: two connections to one SQLite file spelled differently, or to one
 * PostgreSQL database through `127.0.0.1` and `localhost`, give equal keys
 * for the same table. See {@link Connector.physicalIdentity}.
 */
export interface PhysicalIdentity {
  /** Equal (`===`) for two entities exactly when they are one table or file; includes the connector kind. */
  key: string
  /** The table for messages, e.g. `table items in /data/shop.db`; never a password. */
  label: string
}

/** How a connection is configured in the plan. */
export interface ConnectionConfig {
  /** The connection's name in the plan (`shop`). */
  name: string
  /** `sqlite:PATH`, `postgres://…`, … (without the password if given apart). */
  url: string
  /** Password given apart from the URL (already expanded from `${VAR}`). */
  password?: string
  /** Webhook bearer token (already expanded from `${VAR}`); never logged. */
  token?: string
  /** Webhook HMAC-SHA256 signing secret (already expanded from `${VAR}`); never logged. */
  secret?: string
  /** Directory that relative paths in the URL are resolved against (the plan file's). */
  baseDir?: string
  /**
   * How change feeds capture changes (`cdc:` on the connection): `auto`
   * (default) picks the connector's native log (PostgreSQL logical
   * replication, the MariaDB binlog) and `triggers` a change-log table
   * filled by triggers (PostgreSQL without replication rights; SQLite always).
   */
  cdc?: 'auto' | 'triggers'
}

/**
 * A datasource. Connectors own their connections and dialect SQL; every
 * method that waits takes an AbortSignal, and generators release their
 * cursors and connections in `finally`.
 */
/** Options of {@link Connector.discover}. */
export interface DiscoverOptions {
  /**
   * Listing all entities: called for each entity that exists but cannot be
   * described (a CSV file with a broken header or schema file, a SQLite view
   * over a dropped table); it is left out of the list instead of failing the
   * whole listing. Without this option such an entity throws. Connectors
   * that read their catalog in one query (PostgreSQL, MySQL) have no such
   * entities and never call it.
   */
  onUnreadable?(entity: string, error: SynclineError): void
}

export interface Connector {
  /** The connection name from the plan. */
  readonly name: string
  /** The connector kind (`sqlite`, `postgres`): for display, never for branching. */
  readonly kind: string
  readonly capabilities: Capabilities

  /** Connect and report; throws {@link ConnectionError} with a fix when unreachable. */
  check(opts?: { signal?: AbortSignal }): Promise<CheckReport>

  /** Describe all entities, or just one (an empty array when it does not exist). */
  discover(entity?: string, opts?: DiscoverOptions): Promise<EntityInfo[]>

  /** Describe one entity; throws `ENTITY_NOT_FOUND` naming the closest existing one. */
  describe(entity: string): Promise<EntityInfo>

  /** Rows matching the filters, or undefined when counting is not cheap. */
  count(entity: string, filters?: Filter[]): Promise<number | undefined>

  /** Read rows in key order (or cursor order), `batchSize` at a time. */
  scan(entity: string, opts: ScanOptions): AsyncIterable<Row[]>

  /** Read the rows with these keys (missing keys are simply absent). */
  lookup(entity: string, keys: string[], values: KeyValues[], fields: string[], opts?: { signal?: AbortSignal }): Promise<Row[]>

  /**
   * Count and checksum the rows in a key range (`capabilities.rangeChecksum`):
   * each row's hash is {@link rowChecksum} of its canonical values, so two
   * databases holding equal rows give equal sums.
   */
  rangeChecksum?(entity: string, opts: RangeChecksumOptions): Promise<RangeChecksum>

  /**
   * Each row's key and hash in a (small) key range, in key order: the
   * compact form two sides compare before reading the rows that differ.
   */
  rangeHashes?(entity: string, opts: RangeChecksumOptions): Promise<KeyHash[]>

  /**
   * Keys that cut a key range into about `parts` ranges of equal row
   * counts: at most `parts - 1` existing keys inside the range, increasing.
   */
  rangeSplit?(entity: string, opts: RangeSplitOptions): Promise<KeyValues[]>

  /**
   * Each row's key and hash in a key range of any size, in key order, batch
   * by batch (memory bounded by a batch): what the descent merges when most
   * of a table differs. Optional: without it, differing ranges are cut and
   * compared with {@link rangeHashes}.
   */
  streamHashes?(entity: string, opts: RangeChecksumOptions): AsyncIterable<KeyHashBatch>

  /** Write upserts and deletes in one transaction; idempotent. */
  apply(entity: string, batch: ApplyBatch, opts: ApplyOptions): Promise<ApplyResult>

  /**
   * Destinations that cannot commit batch by batch (files) stage what
   * `apply` writes and make it visible here, atomically, at the end of a
   * run; the engine saves checkpoints only after it. Absent: every `apply`
   * commits by itself.
   */
  commit?(entity: string): Promise<void>

  /** Discard what was staged since the last commit (a failed or cancelled run). */
  rollback?(entity: string): Promise<void>

  /** Create the entity if it does not exist, mapping canonical types to native ones. */
  ensureEntity(entity: string, fields: FieldInfo[], keys: string[]): Promise<void>

  /**
   * Row hash functions `rangeChecksum` and `rangeHashes` accept, preferred
   * first. `md5` is the one of src/values/row-checksum.ts (the default,
   * which every connector with `capabilities.rangeChecksum` takes); another
   * name is used only when both sides list it (PostgreSQL's faster
   * `postgres-hashtext` between two PostgreSQL databases).
   */
  readonly checksumHashes?: readonly string[]

  /**
   * Add fields to an existing entity, each nullable and of the native type
   * `ensureEntity` would give it (schema drift `evolve`). A field already
   * there is left as it is. Absent: the destination cannot grow fields.
   */
  addFields?(entity: string, fields: FieldInfo[]): Promise<void>

  /** Formats `bulkExport` writes and `bulkImport` reads; absent: no bulk path. */
  readonly bulkFormats?: readonly string[]

  /**
   * Stream an entity's fields in a bulk format, or undefined when some field
   * has no exact representation in it (the engine then reads row by row).
   */
  bulkExport?(entity: string, opts: BulkExportOptions): Promise<BulkExport | undefined>

  /**
   * Load a bulk export into an entity, in one transaction: all rows or none.
   * Resolves with the row count, or undefined (nothing written) when a
   * destination field cannot hold its source field exactly. A rejected value
   * throws a data error with nothing written, and the engine falls back to
   * writing row by row, where each rejected record is reported.
   */
  bulkImport?(entity: string, data: BulkExport, opts: BulkImportOptions): Promise<number | undefined>

  /**
   * The start (canonical timestamp) of the oldest transaction still open in
   * the datasource, if it can tell. Incremental sync caps its saved watermark
   * there so rows committed late with older cursor values are not skipped.
   */
  oldestOpenTransactionStart?(opts?: { signal?: AbortSignal }): Promise<string | undefined>

  /**
   * The physical table or file behind an existing entity, so the engine can
   * refuse a sync whose destination is its own source under another
   * connection name (it would overwrite the source, and its deletes would
   * remove source rows). Undefined when the entity does not exist, or when
   * the datasource cannot tell (an in-memory database is never the same as
   * another). Absent: the connector cannot tell for any entity.
   * @example await shop.physicalIdentity?.('items') // { key: '["sqlite","2049:131","items"]', label: 'table items in /data/shop.db' }
   */
  physicalIdentity?(entity: string, opts?: { signal?: AbortSignal }): Promise<PhysicalIdentity | undefined>

  /**
   * For a text field (an incremental cursor compares it as text, byte by
   * byte): whether its values that read as timestamps (`YYYY-MM-DD…`) come
   * in more than one spelling, such as `2025-01-06T12:00:00Z` and
   * `2025-01-06 13:00:00`, or with different UTC offsets. Text order is then
   * not time order (a space sorts before `T`), and a cursor would skip rows.
   * Returns samples (the lowest and highest value of each spelling, as
   * text) and how to fix the data in this datasource's terms; undefined when
   * all such values share one spelling and offset (text order is time order).
   */
  timestampSpellings?(entity: string, field: string, opts?: { signal?: AbortSignal }): Promise<TimestampSpellings | undefined>

  /**
   * Start capturing an entity's changes for a consumer (`capabilities.cdc`;
   * src/connectors/change-feed.ts). Resolves once capture is active: every
   * change committed after that is delivered. Creates what the consumer
   * needs (slot and publication, change-log triggers) on first use.
   * Throws `CDC_NOT_READY` with the fix when the datasource cannot capture
   * (wal_level, privileges, binlog format), `POSITION_LOST` when `from` can no
   * longer be served.
   */
  openChangeFeed?(entity: string, opts: ChangeFeedOptions): Promise<ChangeFeed>

  /**
   * Forget a consumer: drop its slot and publication, or its change-log
   * position (and the triggers and change-log once no consumer needs them).
   * Idempotent: an unknown consumer is no error.
   */
  dropChangeFeed?(consumer: string, opts?: { signal?: AbortSignal }): Promise<void>

  /**
   * Rows of `entity` whose foreign key `foreignKey` (one of its
   * `EntityInfo.foreignKeys`) points at no row of the referenced entity: an
   * anti-join in the datasource, NULL foreign keys never counted. The engine
   * asks after writing with `foreignKeyChecks: 'off'`. Absent: the
   * datasource has no foreign keys.
   */
  findOrphans?(entity: string, foreignKey: ForeignKeyInfo, opts: { limit: number; signal?: AbortSignal }): Promise<OrphanRows>

  /**
   * How this datasource writes with `foreignKeyChecks: 'off'`, in one
   * sentence for `validate --live` (and what it needs, e.g. a privilege).
   * Absent: the datasource has no foreign keys.
   */
  readonly foreignKeyChecksOff?: string

  /** Every syncline consumer this datasource keeps (slots, change-log readers), for `check` and `status`. */
  listChangeFeeds?(opts?: { signal?: AbortSignal }): Promise<ChangeFeedStatus[]>

  close(): Promise<void>
}

/** What {@link Connector.timestampSpellings} found: samples of two or more spellings, and the fix. */
export interface TimestampSpellings {
  /** The lowest and highest value of each spelling found (at most four spellings). */
  samples: string[]
  /** How to store one spelling, or which column type compares instants, for this datasource. */
  fix: string
}

/** The value of `field` in every row, as key arrays. */
export function keyOf(row: Row, keys: readonly string[]): KeyValues {
  const out: Value[] = new Array(keys.length)
  for (let i = 0; i < keys.length; i++) out[i] = row[keys[i]!] ?? null
  return out
}
