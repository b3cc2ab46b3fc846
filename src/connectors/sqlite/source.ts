/**
 * Reading from SQLite: keyset-paginated scans in key or cursor order, counts
 * and key lookups. Each batch is its own query (`… ORDER BY … LIMIT n`) read
 * whole with `all()`, so no statement stays open between batches (there is
 * nothing for a `finally` to release) and the connection is free for other
 * calls, such as an apply, while the engine works on a batch. better-sqlite3
 * refuses any other statement while an `iterate()` cursor is open.
 */
import type Database from 'better-sqlite3'
import { didYouMean, NotFoundError, SynclineError, throwIfAborted } from '../../errors.js'
import type { EntityInfo, FieldInfo, KeyValues, Row } from '../../values/canonical.js'
import { keyOf, type Filter, type ScanOptions } from '../connector.js'
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

/** The fields a scan compares, whose compare modes it needs. */
export function comparedFields(opts: Pick<ScanOptions, 'keys' | 'filters' | 'cursor'>): string[] {
  return [...opts.keys, ...(opts.cursor ? [opts.cursor.field] : []), ...(opts.filters ?? []).map((f) => f.field)]
}

/**
 * Read rows `batchSize` at a time in key order (text keys by UTF-8 bytes),
 * or for a cursor scan in `(cursor, key…)` order. The next batch starts
 * strictly after the last row of the previous one, so equal cursor values
 * never lose or repeat rows at a batch boundary.
 */
export async function* scanRows(target: ReadTarget, opts: ScanOptions): AsyncGenerator<Row[]> {
  const { db, entity } = target
  if (opts.keys.length === 0) {
    throw new SynclineError('KEY_MISSING', 'config', `Scanning SQLite table '${entity.name}' needs key fields to order by; it has no primary key, so give keys in the plan.`)
  }
  if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) throw new RangeError(`batchSize must be a positive integer, not ${opts.batchSize}`)
  const cursor = opts.cursor
  const selected = requireFields(entity, [...opts.keys, ...(cursor ? [cursor.field] : []), ...opts.fields])
  requireFields(entity, comparedFields(opts))
  const fields = new Map(entity.fields.map((f) => [f.name, f]))
  const dialect = sqliteDialect(target.modes)
  const decode = rowDecoder(entity.name, selected)
  const head = `SELECT ${selected.map((f) => quoteIdent(f.name)).join(', ')} FROM ${quoteIdent(entity.name)}`
  const order = orderBy(dialect, fields, opts.keys, cursor?.field)
  const statements = new Map<string, Database.Statement>()

  let after: KeyValues | undefined = opts.after
  let from = cursor?.from
  for (;;) {
    throwIfAborted(opts.signal)
    const params = new ParamList(dialect)
    const conditions = [filterCondition(dialect, fields, opts.filters ?? [], params)]
    if (cursor) conditions.push(cursorCondition(dialect, fields, opts.keys, { field: cursor.field, ...(from ? { from } : {}) }, params))
    else if (after) conditions.push(keysetCondition(dialect, fields, opts.keys, after, params))
    const sql = `${head} ${where(conditions)} ${order} LIMIT ${params.add(BigInt(opts.batchSize))}`
    let statement = statements.get(sql)
    if (!statement) {
      statement = db.prepare(sql).raw(true)
      statements.set(sql, statement)
    }
    const rows = (statement.all(params.values) as unknown[][]).map(decode)
    if (rows.length > 0) yield rows
    if (rows.length < opts.batchSize) return
    const last = rows[rows.length - 1]!
    if (cursor) from = { value: last[cursor.field] ?? null, key: keyOf(last, opts.keys) }
    else after = keyOf(last, opts.keys)
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
