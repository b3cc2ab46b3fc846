/**
 * Reading from SQLite: scans in key or cursor order, counts and key lookups.
 * No statement stays open between batches, so the connection is free for
 * other calls, such as an apply, while the engine works on a batch
 * (better-sqlite3 refuses writes while an `iterate()` cursor is open).
 *
 * A scan whose order an index serves (a key scan by the primary key) pages
 * by keyset: each batch is one `… WHERE k > last ORDER BY k LIMIT n` query.
 * A scan whose order needs a sort, which is every cursor scan here (no index
 * on `(cursor, key)`, or a cursor compared through its canonical form, which
 * no index holds), would sort the whole table again for every page: 90
 * pages of 2,000 rows over 180,000 rows made a first incremental run 16
 * times slower than a full sync. Such a scan sorts once instead: one
 * `INSERT … SELECT … ORDER BY` copies the matching rows in scan order into a
 * temporary table whose rowid numbers them (SQLite's temp store, spilled to
 * disk, never the JavaScript heap), read `batchSize` rows at a time by
 * number and dropped at the end. That copy is also one snapshot of the table
 * for the whole scan, as a PostgreSQL or MySQL scan is.
 */
import type Database from 'better-sqlite3'
import { didYouMean, NotFoundError, SynclineError, throwIfAborted } from '../../errors.js'
import type { EntityInfo, FieldInfo, KeyValues, Row } from '../../values/canonical.js'
import { keyOf, type CursorScan, type Filter, type ScanOptions } from '../connector.js'
import { cursorCondition, filterCondition, keysetCondition, orderBy, ParamList, where } from '../sql/sql-builder.js'
import { rowDecoder } from './codec.js'
import { quoteIdent, sqliteDialect, type CompareMode } from './dialect.js'

/** What a read needs: the connection, the described entity, and how its compared fields compare. */
export interface ReadTarget {
  db: Database.Database
  entity: EntityInfo
  /** Compare mode per compared field (keys, cursor, filter fields); others compare as stored. */
  modes: ReadonlyMap<string, CompareMode>
}

/** Rows a lookup asks for per query (SQLite allows 32766 parameters). */
const LOOKUP_CHUNK_PARAMS = 900

/** The fields of an entity with these names; a missing one is FIELD_NOT_FOUND naming the closest. */
export function requireFields(entity: EntityInfo, names: Iterable<string>): FieldInfo[] {
  const out: FieldInfo[] = []
  const seen = new Set<string>()
  for (const name of names) {
    if (seen.has(name)) continue
    seen.add(name)
    const field = entity.fields.find((f) => f.name === name)
    if (!field) {
      throw new NotFoundError(
        'FIELD_NOT_FOUND',
        'config',
        `SQLite table '${entity.name}' has no field '${name}'.${didYouMean(name, entity.fields.map((f) => f.name))} Fix the field name in the plan.`,
        { details: { entity: entity.name, field: name } },
      )
    }
    out.push(field)
  }
  return out
}

/** Filter operators that never compare a value (`like` compares text as stored): they need no compare mode. */
const UNCOMPARED = new Set(['is_null', 'is_not_null', 'like'])

/** The fields filters compare, whose compare modes a count needs (finding one is a pass over the table). */
export function comparedFilterFields(filters: readonly Filter[] = []): string[] {
  return filters.filter((f) => !UNCOMPARED.has(f.op)).map((f) => f.field)
}

/** The fields a scan compares, whose compare modes it needs. */
export function comparedFields(opts: Pick<ScanOptions, 'keys' | 'filters' | 'cursor'>): string[] {
  return [...opts.keys, ...(opts.cursor ? [opts.cursor.field] : []), ...comparedFilterFields(opts.filters)]
}

/**
 * Read rows `batchSize` at a time in key order (text keys by UTF-8 bytes),
 * or for a cursor scan in `(cursor, key…)` order. Keyset pages start
 * strictly after the last row of the previous one, and a sorted scan
 * numbers its rows, so equal cursor values never lose or repeat rows at a
 * batch boundary.
 */
export async function* scanRows(target: ReadTarget, opts: ScanOptions): AsyncGenerator<Row[]> {
  const { db, entity } = target
  if (opts.keys.length === 0) {
    throw new SynclineError('KEY_MISSING', 'config', `Scanning SQLite table '${entity.name}' needs key fields to order by; it has no primary key, so give keys in the plan.`)
  }
  if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) throw new RangeError(`batchSize must be a positive integer, not ${opts.batchSize}`)
  const cursor = opts.cursor
  const selected = requireFields(entity, [...opts.keys, ...(cursor ? [cursor.field] : []), ...opts.fields])
  requireFields(entity, [...comparedFields(opts), ...(opts.filters ?? []).map((f) => f.field)])
  const scan: ScanQuery = {
    db,
    fields: new Map(entity.fields.map((f) => [f.name, f])),
    dialect: sqliteDialect(target.modes),
    columns: selected.map((f) => quoteIdent(f.name)),
    table: quoteIdent(entity.name),
    decode: rowDecoder(entity.name, selected),
    opts,
  }
  const first = pageQuery(scan, opts.after, cursor?.from)
  if (cursor || sortsEveryPage(db, first)) yield* sortedScan(scan)
  else yield* keysetScan(scan, first)
}

/** One scan's parts, shared by its queries. */
interface ScanQuery {
  db: Database.Database
  fields: ReadonlyMap<string, FieldInfo>
  dialect: ReturnType<typeof sqliteDialect>
  /** The selected columns, quoted. */
  columns: string[]
  table: string
  decode: (cells: readonly unknown[]) => Row
  opts: ScanOptions
}

/** `WHERE …` and `ORDER BY …` of a scan (after a key, or after a cursor point), with its parameters. */
function scanConditions(scan: ScanQuery, after: KeyValues | undefined, from: CursorScan['from']): { where: string; order: string; params: ParamList } {
  const { dialect, fields, opts } = scan
  const params = new ParamList(dialect)
  const conditions = [filterCondition(dialect, fields, opts.filters ?? [], params)]
  if (opts.cursor) conditions.push(cursorCondition(dialect, fields, opts.keys, { field: opts.cursor.field, ...(from ? { from } : {}) }, params))
  else if (after) conditions.push(keysetCondition(dialect, fields, opts.keys, after, params))
  return { where: where(conditions), order: orderBy(dialect, fields, opts.keys, opts.cursor?.field), params }
}

/** One keyset page: its SQL and parameters. */
function pageQuery(scan: ScanQuery, after: KeyValues | undefined, from: CursorScan['from']): { sql: string; params: unknown[] } {
  const { where: condition, order, params } = scanConditions(scan, after, from)
  const sql = `SELECT ${scan.columns.join(', ')} FROM ${scan.table} ${condition} ${order} LIMIT ${params.add(BigInt(scan.opts.batchSize))}`
  return { sql, params: params.values }
}

/** Whether SQLite would sort the rows for this page (no index serves its order). */
function sortsEveryPage(db: Database.Database, page: { sql: string; params: unknown[] }): boolean {
  const plan = db.prepare(`EXPLAIN QUERY PLAN ${page.sql}`).all(page.params) as { detail: string }[]
  return plan.some((step) => step.detail.includes('TEMP B-TREE'))
}

/** Keyset pages, each its own query, for a scan whose order an index serves. */
async function* keysetScan(scan: ScanQuery, first: { sql: string; params: unknown[] }): AsyncGenerator<Row[]> {
  const { db, opts } = scan
  const statements = new Map<string, Database.Statement>()
  let page = first
  for (;;) {
    throwIfAborted(opts.signal)
    let statement = statements.get(page.sql)
    if (!statement) {
      statement = db.prepare(page.sql).raw(true)
      statements.set(page.sql, statement)
    }
    const rows = (statement.all(page.params) as unknown[][]).map(scan.decode)
    if (rows.length > 0) yield rows
    if (rows.length < opts.batchSize) return
    page = pageQuery(scan, keyOf(rows[rows.length - 1]!, opts.keys), undefined)
  }
}

/** Temporary tables of sorted scans: unique per connection (a process may scan one connection twice at once). */
let sortedScans = 0

/**
 * Sort once into a temporary table, numbered in scan order, then read it by
 * number. The table is dropped when the scan ends, fails or is abandoned.
 */
async function* sortedScan(scan: ScanQuery): AsyncGenerator<Row[]> {
  const { db, opts } = scan
  const temp = `temp.${quoteIdent(`syncline_scan_${process.pid}_${++sortedScans}`)}`
  const cells = scan.columns.map((_, i) => `c${i}`)
  const { where: condition, order, params } = scanConditions(scan, opts.after, opts.cursor?.from)
  throwIfAborted(opts.signal)
  // Columns without a declared type keep every value exactly as stored.
  db.exec(`CREATE TABLE ${temp} (n INTEGER PRIMARY KEY, ${cells.join(', ')})`)
  try {
    // SQLite inserts the rows of an ordered SELECT in its order, each with the next rowid `n`: `n` is the
    // scan order (the conformance scans check it). Twice as fast as numbering them with row_number().
    db.prepare(`INSERT INTO ${temp} (${cells.join(', ')}) SELECT ${scan.columns.join(', ')} FROM ${scan.table} ${condition} ${order}`).run(params.values)
    const page = db.prepare(`SELECT ${cells.join(', ')} FROM ${temp} WHERE n > ? ORDER BY n LIMIT ?`).raw(true)
    for (let done = 0; ; done += opts.batchSize) {
      throwIfAborted(opts.signal)
      const rows = (page.all(BigInt(done), BigInt(opts.batchSize)) as unknown[][]).map(scan.decode)
      if (rows.length > 0) yield rows
      if (rows.length < opts.batchSize) return
    }
  } finally {
    if (db.open) db.exec(`DROP TABLE IF EXISTS ${temp}`)
  }
}

/** How many rows match the filters. */
export function countRows(target: ReadTarget, filters: readonly Filter[] = []): number {
  const { db, entity } = target
  requireFields(entity, filters.map((f) => f.field))
  const dialect = sqliteDialect(target.modes)
  const params = new ParamList(dialect)
  const condition = where([filterCondition(dialect, new Map(entity.fields.map((f) => [f.name, f])), filters, params)])
  const count = db.prepare(`SELECT count(*) FROM ${quoteIdent(entity.name)} ${condition}`).pluck().get(params.values) as bigint
  return Number(count)
}

/** The rows with these keys (key fields always included); missing keys are simply absent. */
export function lookupRows(target: ReadTarget, keys: readonly string[], values: readonly KeyValues[], fields: readonly string[]): Row[] {
  const { db, entity } = target
  const keyFields = requireFields(entity, keys)
  const selected = requireFields(entity, [...keys, ...fields])
  if (values.length === 0 || keyFields.length === 0) return []
  const dialect = sqliteDialect(target.modes)
  const columns = keyFields.map((f) => dialect.binaryOrder(dialect.comparable(quoteIdent(f.name), f), f.type))
  const decode = rowDecoder(entity.name, selected)
  const head = `SELECT ${selected.map((f) => quoteIdent(f.name)).join(', ')} FROM ${quoteIdent(entity.name)} WHERE `
  const chunkSize = Math.max(1, Math.floor(LOOKUP_CHUNK_PARAMS / keyFields.length))
  const rows: Row[] = []
  for (let start = 0; start < values.length; start += chunkSize) {
    const chunk = values.slice(start, start + chunkSize)
    const params = new ParamList(dialect)
    const param = (key: KeyValues, i: number) => params.add(dialect.encodeParam(key[i] ?? null, keyFields[i]!))
    const condition =
      keyFields.length === 1
        ? `${columns[0]} IN (${chunk.map((key) => param(key, 0)).join(', ')})`
        : chunk.map((key) => `(${columns.map((c, i) => `${c} = ${param(key, i)}`).join(' AND ')})`).join(' OR ')
    const found = db.prepare(head + condition).raw(true).all(params.values) as unknown[][]
    for (const cells of found) rows.push(decode(cells))
  }
  return rows
}
