/**
 * Writing to PostgreSQL: one transaction per batch, deletes then upserts.
 *
 * Upserts are `INSERT … SELECT FROM unnest($1::type[], …) ON CONFLICT (keys)
 * DO UPDATE … WHERE (cols) IS DISTINCT FROM (excluded cols)`: one statement
 * per batch whatever its size, and rows that did not change are not
 * rewritten (no dead tuples, no WAL). Only the columns present in the rows
 * are written; other destination columns keep their values or defaults.
 *
 * With `allNew` and a large batch, rows are COPYed straight into the table
 * under a savepoint; if any key exists after all (the hint was wrong, or the
 * batch is being replayed), the COPY fails on the unique key, the savepoint
 * is rolled back and the batch goes through the upsert, so apply stays
 * idempotent. See {@link COPY_MIN_ROWS} for the measurements.
 */
import { pipeline } from 'node:stream/promises'
import { Readable } from 'node:stream'
import copyStreams from 'pg-copy-streams'
import type pg from 'pg'
import { RecordError, SynclineError, throwIfAborted } from '../../errors.js'
import type { FieldInfo, KeyValues, Row, Value } from '../../values/canonical.js'
import type { ApplyBatch, ApplyOptions, ApplyResult } from '../connector.js'
import { ParamList } from '../sql/sql-builder.js'
import { encodeArrayLiteral, encodeCopyText } from './codec.js'
import { quoteIdent } from './dialect.js'
import { classifyPgError, isConnectionBroken } from './errors.js'
import type { PgColumn, PgTable } from './introspect.js'
import { columnOf, keyArray, type PgContext } from './source.js'

/**
 * Smallest `allNew` batch that is COPYed rather than upserted. Measured on
 * 1,000,000 new rows of `items` (6 columns): see the report in
 * docs / the connector README; below a few thousand rows the savepoint and
 * stream set-up cost more than COPY saves.
 */
export const COPY_MIN_ROWS = 2_000

/** How a batch of upserts was written (for tests and benchmarks). */
export type UpsertPath = 'upsert' | 'copy'

/** Options for {@link applyBatch} beyond the contract's. */
export interface SinkOptions extends ApplyOptions {
  /** Force a write path (benchmarks and tests); default: chosen by `allNew` and size. */
  path?: UpsertPath
}

/**
 * Apply deletes then upserts in one transaction. A rejected record (too
 * long, NULL in a NOT NULL column, a constraint) throws a RecordError after
 * the transaction is rolled back; the connection goes back to the pool
 * clean, so the engine can split the batch and retry the halves.
 * @returns `upserted`: rows inserted or changed (unchanged rows are not
 *   counted); `deleted`: rows that existed and were deleted.
 */
export async function applyBatch(ctx: PgContext, entity: string, batch: ApplyBatch, opts: SinkOptions): Promise<ApplyResult> {
  throwIfAborted(opts.signal)
  if (batch.upserts.length === 0 && batch.deletes.length === 0) return { upserted: 0, deleted: 0 }
  const table = await ctx.table(entity)
  if (!table.writable) {
    throw new SynclineError('PLAN_INVALID', 'config', `Entity '${table.info.name}' is a view; syncline cannot write to it. Use a table as the destination.`)
  }
  if (opts.keys.length === 0) throw new SynclineError('KEY_MISSING', 'config', `Writing to '${table.info.name}' needs key fields; set keys: in the sync.`)
  for (const key of opts.keys) columnOf(table, key)
  const groups = groupByColumns(table, dedupeByKey(table, batch.upserts, opts.keys), opts.keys)
  for (const group of groups) precheck(table, group.columns, group.rows, opts.keys)

  let client: pg.PoolClient | undefined
  let failure: unknown
  try {
    client = await ctx.pool().connect()
    await client.query('BEGIN')
    const deleted = batch.deletes.length > 0 ? await deleteRows(client, table, opts.keys, batch.deletes) : 0
    let upserted = 0
    for (const group of groups) {
      const copy = opts.path ? opts.path === 'copy' : opts.allNew === true && group.rows.length >= COPY_MIN_ROWS
      upserted += copy ? await copyOrUpsert(client, table, group.columns, group.rows, opts.keys) : await upsertRows(client, table, group.columns, group.rows, opts.keys)
    }
    await client.query('COMMIT')
    return { upserted, deleted }
  } catch (error) {
    failure = error
    if (client && !isConnectionBroken(error)) {
      await client.query('ROLLBACK').catch((rollbackError: unknown) => {
        failure = rollbackError
      })
    }
    throw classifyPgError(error, ctx.errorContext(table.info.name))
  } finally {
    client?.release(failure !== undefined && isConnectionBroken(failure) ? true : undefined)
  }
}

/** A text key for a row's key values, equal for equal canonical keys. */
function keyText(values: KeyValues): string {
  let out = ''
  for (const v of values) out += (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : String(v)) + '\u0000'
  return out
}

/**
 * Keep the last row of each key: `ON CONFLICT DO UPDATE` refuses to touch
 * one row twice in a statement, and the last write is the one that counts.
 */
function dedupeByKey(table: PgTable, rows: readonly Row[], keys: readonly string[]): Row[] {
  if (rows.length < 2) return [...rows]
  const byKey = new Map<string, Row>()
  for (const row of rows) {
    const values = keys.map((k) => row[k] ?? null)
    byKey.set(keyText(values), row)
  }
  void table
  return byKey.size === rows.length ? [...rows] : [...byKey.values()]
}

interface RowGroup {
  columns: PgColumn[]
  rows: Row[]
}

/** Rows grouped by the set of fields they carry (normally one group), keys first. */
function groupByColumns(table: PgTable, rows: readonly Row[], keys: readonly string[]): RowGroup[] {
  const groups = new Map<string, RowGroup>()
  let lastSignature = ''
  let last: RowGroup | undefined
  for (const row of rows) {
    const names = Object.keys(row)
    const signature = names.join('\u0000')
    if (signature !== lastSignature || !last) {
      last = groups.get(signature)
      if (!last) {
        for (const key of keys) {
          if (!(key in row)) throw new RecordError('VALUE_REJECTED', 'data', `Entity '${table.info.name}' rejected a record: key field ${key} is missing from the row.`)
        }
        const ordered = [...keys, ...names.filter((n) => !keys.includes(n))]
        last = { columns: ordered.map((n) => columnOf(table, n)), rows: [] }
        groups.set(signature, last)
      }
      lastSignature = signature
    }
    last.rows.push(row)
  }
  return [...groups.values()]
}

const INTEGER_RANGES: Record<string, [number, number]> = {
  smallint: [-32768, 32767],
  integer: [-2147483648, 2147483647],
}

/**
 * Catch what PostgreSQL would reject without naming the field (a string
 * longer than `varchar(n)`, an integer out of range) or a NULL for a NOT NULL
 * column, and say which field, which limit and which record.
 */
function precheck(table: PgTable, columns: readonly PgColumn[], rows: readonly Row[], keys: readonly string[]): void {
  for (const { field } of columns) {
    const range = INTEGER_RANGES[field.nativeType]
    if (field.nullable && field.maxLength === undefined && !range) continue
    for (const row of rows) {
      const value = row[field.name] ?? null
      const problem = valueProblem(field, value, range)
      if (problem) {
        const key = keys.map((k) => `${k}=${formatValue(row[k] ?? null)}`).join(', ')
        throw new RecordError('VALUE_REJECTED', 'data', `Entity '${table.info.name}' rejected a record (${key}): ${field.name}: ${problem}.`, {
          details: { entity: table.info.name, field: field.name, key: keys.map((k) => row[k] ?? null) },
        })
      }
    }
  }
}

function valueProblem(field: FieldInfo, value: Value, range: [number, number] | undefined): string | undefined {
  if (value === null) return field.nullable ? undefined : 'NULL is not allowed (the column is NOT NULL)'
  if (field.maxLength !== undefined && typeof value === 'string' && value.length > field.maxLength) {
    // PostgreSQL counts characters (code points) and lets excess trailing spaces go.
    const length = [...value.replace(/ +$/, '')].length
    if (length > field.maxLength) {
      const kind = field.nativeType.startsWith('character varying') ? 'varchar' : 'char'
      return `value of ${[...value].length} characters is longer than ${kind}(${field.maxLength})`
    }
  }
  if (range && (typeof value === 'number' || typeof value === 'bigint') && (value < range[0] || value > range[1])) {
    return `${value} is out of range for ${field.nativeType} (${range[0]} to ${range[1]})`
  }
  return undefined
}

function formatValue(value: Value): string {
  if (value instanceof Uint8Array) return `\\x${Buffer.from(value).toString('hex')}`
  return typeof value === 'string' ? JSON.stringify(value) : String(value)
}

/** Whether a unique key of the table is exactly these fields, so `ON CONFLICT (keys)` works. */
function hasUniqueKey(table: PgTable, keys: readonly string[]): boolean {
  const wanted = [...keys].sort().join('\u0000')
  return [table.info.primaryKey, ...table.info.uniqueKeys].some((k) => k.length > 0 && [...k].sort().join('\u0000') === wanted)
}

/** How a column compares in the change guard: json has no equality operator, so compare its text. */
function comparable(column: PgColumn, ref: string): string {
  return column.castTo || column.field.nativeType === 'json' ? `${ref}::text` : ref
}

async function deleteRows(client: pg.PoolClient, table: PgTable, keys: readonly string[], deletes: readonly KeyValues[]): Promise<number> {
  const params = new ParamList(table.dialect)
  const parts = keys.map((k, i) => keyArray(table, k, deletes, i, params))
  const sql =
    parts.length === 1
      ? `DELETE FROM ${table.sql} WHERE ${parts[0]!.column} = ANY(${parts[0]!.array})`
      : `DELETE FROM ${table.sql} WHERE (${parts.map((p) => p.column).join(', ')}) IN (SELECT * FROM unnest(${parts.map((p) => p.array).join(', ')}))`
  return (await client.query(sql, params.values)).rowCount ?? 0
}

/** Where upserted rows come from: `unnest(…) AS u(…)` or a staging table, and the SELECT list over it. */
interface RowSource {
  from: string
  select: string
  params: unknown[]
}

/** `unnest($1::bigint[], $2::text[]) AS u("id", "name")`: one array parameter per column. */
function unnestSource(table: PgTable, columns: readonly PgColumn[], rows: readonly Row[]): RowSource {
  const params = new ParamList(table.dialect)
  const arrays: string[] = []
  const select: string[] = []
  for (const column of columns) {
    const { field } = column
    const values = new Array<Value>(rows.length)
    for (let i = 0; i < rows.length; i++) values[i] = rows[i]![field.name] ?? null
    arrays.push(`${params.add(encodeArrayLiteral(values, field))}::${column.paramType}[]`)
    const ref = `u.${quoteIdent(field.name)}`
    select.push(column.castTo ? `${ref}::${column.castTo}` : ref)
  }
  return {
    from: `unnest(${arrays.join(', ')}) AS u(${columns.map((c) => quoteIdent(c.field.name)).join(', ')})`,
    select: select.join(', '),
    params: params.values,
  }
}

/**
 * Write rows from a source: the guarded `INSERT … ON CONFLICT (keys) DO
 * UPDATE … WHERE changed`, or, when no unique key matches `keys`, an UPDATE
 * of the rows that exist and an INSERT of the rest.
 */
async function writeFrom(client: pg.PoolClient, table: PgTable, columns: readonly PgColumn[], keys: readonly string[], source: RowSource): Promise<number> {
  const names = columns.map((c) => quoteIdent(c.field.name))
  const others = columns.filter((c) => !keys.includes(c.field.name)).map((c) => ({ column: c, name: quoteIdent(c.field.name) }))
  const changed = (alias: string) =>
    `ROW(${others.map((o) => comparable(o.column, `t.${o.name}`)).join(', ')}) IS DISTINCT FROM ROW(${others.map((o) => comparable(o.column, `${alias}.${o.name}`)).join(', ')})`
  if (hasUniqueKey(table, keys)) {
    const action = others.length === 0 ? 'DO NOTHING' : `DO UPDATE SET ${others.map((o) => `${o.name} = EXCLUDED.${o.name}`).join(', ')} WHERE ${changed('EXCLUDED')}`
    const sql = `INSERT INTO ${table.sql} AS t (${names.join(', ')}) SELECT ${source.select} FROM ${source.from} ON CONFLICT (${keys.map(quoteIdent).join(', ')}) ${action}`
    return (await client.query(sql, source.params)).rowCount ?? 0
  }
  const match = keys.map((k) => `t.${quoteIdent(k)} = s.${quoteIdent(k)}`).join(' AND ')
  const staged = `WITH s (${names.join(', ')}) AS (SELECT ${source.select} FROM ${source.from})`
  let written = 0
  if (others.length > 0) {
    const update = `${staged} UPDATE ${table.sql} AS t SET ${others.map((o) => `${o.name} = s.${o.name}`).join(', ')} FROM s WHERE ${match} AND ${changed('s')}`
    written += (await client.query(update, source.params)).rowCount ?? 0
  }
  const insert = `${staged} INSERT INTO ${table.sql} AS t (${names.join(', ')})
    SELECT ${names.map((n) => `s.${n}`).join(', ')} FROM s WHERE NOT EXISTS (SELECT 1 FROM ${table.sql} AS t WHERE ${match})`
  written += (await client.query(insert, source.params)).rowCount ?? 0
  return written
}

/** Upsert with the rows as `unnest` array parameters (one statement, any batch size). */
export async function upsertRows(client: pg.PoolClient, table: PgTable, columns: readonly PgColumn[], rows: readonly Row[], keys: readonly string[]): Promise<number> {
  if (rows.length === 0) return 0
  return writeFrom(client, table, columns, keys, unnestSource(table, columns, rows))
}

const STAGE = 'pg_temp.syncline_stage'

/** Upsert by COPYing the rows into a temporary table, then INSERT … SELECT … ON CONFLICT from it. */
export async function stagedUpsert(client: pg.PoolClient, table: PgTable, columns: readonly PgColumn[], rows: readonly Row[], keys: readonly string[]): Promise<number> {
  if (rows.length === 0) return 0
  const names = columns.map((c) => quoteIdent(c.field.name))
  await client.query(`CREATE TEMPORARY TABLE syncline_stage ON COMMIT DROP AS SELECT ${names.join(', ')} FROM ${table.sql} WITH NO DATA`)
  await copyInto(client, STAGE, columns, rows)
  const written = await writeFrom(client, table, columns, keys, { from: `${STAGE} AS u`, select: names.map((n) => `u.${n}`).join(', '), params: [] })
  await client.query(`DROP TABLE ${STAGE}`)
  return written
}

/**
 * COPY the rows straight in under a savepoint; when a key already exists
 * (SQLSTATE 23505 on the key's constraint) roll the savepoint back and upsert
 * instead. Only used when a unique key matches `keys`, otherwise a replayed
 * batch would insert duplicates.
 */
export async function copyOrUpsert(client: pg.PoolClient, table: PgTable, columns: readonly PgColumn[], rows: readonly Row[], keys: readonly string[]): Promise<number> {
  if (rows.length === 0) return 0
  if (!hasUniqueKey(table, keys)) return upsertRows(client, table, columns, rows, keys)
  await client.query('SAVEPOINT syncline_copy')
  try {
    const copied = await copyInto(client, table.sql, columns, rows)
    await client.query('RELEASE SAVEPOINT syncline_copy')
    return copied
  } catch (error) {
    if ((error as { code?: string }).code !== '23505') throw error
    await client.query('ROLLBACK TO SAVEPOINT syncline_copy')
    return upsertRows(client, table, columns, rows, keys)
  }
}

/** COPY rows in text format into a table (quoted name); returns the number of rows copied. */
async function copyInto(client: pg.PoolClient, target: string, columns: readonly PgColumn[], rows: readonly Row[]): Promise<number> {
  const stream = client.query(copyStreams.from(`COPY ${target} (${columns.map((c) => quoteIdent(c.field.name)).join(', ')}) FROM STDIN`))
  await pipeline(Readable.from(copyText(columns, rows)), stream)
  return stream.rowCount
}

/** COPY text in chunks of about 64 kB. */
function* copyText(columns: readonly PgColumn[], rows: readonly Row[]): Generator<string> {
  const fields = columns.map((c) => c.field)
  let chunk = ''
  for (const row of rows) {
    let line = ''
    for (let i = 0; i < fields.length; i++) {
      const field = fields[i]!
      line += (i === 0 ? '' : '\t') + encodeCopyText(row[field.name] ?? null, field)
    }
    chunk += line + '\n'
    if (chunk.length >= 65_536) {
      yield chunk
      chunk = ''
    }
  }
  if (chunk.length > 0) yield chunk
}
