/**
 * The statements that write a group of rows (same columns, keys first):
 *
 * - `upsertRows`: `INSERT … SELECT FROM unnest($1::type[], …) ON CONFLICT
 *   (keys) DO UPDATE … WHERE ROW(cols) IS DISTINCT FROM ROW(excluded)`; one
 *   statement whatever the batch size, unchanged rows not rewritten.
 * - `stagedUpsert`: COPY into a temporary table, then the same upsert from it.
 * - `copyOrUpsert`: COPY straight into the table under a savepoint, falling
 *   back when a key exists after all.
 *
 * Without a unique key matching the sync keys, the upsert becomes an UPDATE
 * of the rows that exist and an INSERT of the rest.
 */
import { pipeline } from 'node:stream/promises'
import { Readable } from 'node:stream'
import copyStreams from 'pg-copy-streams'
import type pg from 'pg'
import type { Row, Value } from '../../values/canonical.js'
import { ParamList } from '../sql/sql-builder.js'
import { encodeArrayLiteral, encodeCopyText } from './codec.js'
import { quoteIdent } from './dialect.js'
import type { PgColumn, PgTable } from './introspect.js'

/** Whether a unique key of the table is exactly these fields, so `ON CONFLICT (keys)` works. */
export function hasUniqueKey(table: PgTable, keys: readonly string[]): boolean {
  const wanted = [...keys].sort().join('\u0000')
  return [table.info.primaryKey, ...table.info.uniqueKeys].some((k) => k.length > 0 && [...k].sort().join('\u0000') === wanted)
}

/** How a column compares in the change guard: json has no equality operator, so compare its text. */
function comparable(column: PgColumn, ref: string): string {
  return column.castTo || column.field.nativeType === 'json' ? `${ref}::text` : ref
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
 * (SQLSTATE 23505 on the key's constraint: the `allNew` hint was wrong, or a
 * batch is replayed) roll the savepoint back and write with `upsert`
 * instead, so the result is the same either way. Without a unique key on
 * `keys` a replay would insert duplicates, so then it only upserts.
 */
export async function copyOrUpsert(
  client: pg.PoolClient,
  table: PgTable,
  columns: readonly PgColumn[],
  rows: readonly Row[],
  keys: readonly string[],
  upsert: () => Promise<number> = () => upsertRows(client, table, columns, rows, keys),
): Promise<number> {
  if (rows.length === 0) return 0
  if (!hasUniqueKey(table, keys)) return upsert()
  await client.query('SAVEPOINT syncline_copy')
  try {
    const copied = await copyInto(client, table.sql, columns, rows)
    await client.query('RELEASE SAVEPOINT syncline_copy')
    return copied
  } catch (error) {
    if ((error as { code?: string }).code !== '23505') throw error
    await client.query('ROLLBACK TO SAVEPOINT syncline_copy')
    return upsert()
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
