/**
 * Range checksums computed inside PostgreSQL (`capabilities.rangeChecksum`).
 *
 * Each row's hash is computed in SQL over the same text
 * src/values/row-checksum.ts builds in JavaScript from the decoded row, so a
 * PostgreSQL range and a SQLite or MariaDB range holding equal rows sum
 * alike; only the count and the sum cross the wire. The text of each type
 * follows what the codec (./codec.ts) decodes it to: numeric scale trimmed,
 * floats as their IEEE bits, timestamps as PostgreSQL prints them in UTC,
 * char(n) without its padding. Values the SQL text cannot match exactly (BC or
 * infinite dates, json that is not jsonb's text) still give a text that no
 * other value has, so a range holding them may show as different when it is
 * not (its rows are then compared one by one) but never the reverse.
 */
import { SynclineError } from '../../errors.js'
import type { KeyValues } from '../../values/canonical.js'
import { FREE_TEXT, reduceChecksum } from '../../values/row-checksum.js'
import type { ChecksumField, KeyHash, KeyRange, RangeChecksum, RangeChecksumOptions, RangeOptions, RangeSplitOptions } from '../connector.js'
import { columnOf } from '../sql/key-rows.js'
import { ParamList, filterCondition, where } from '../sql/sql-builder.js'
import { encodeParam } from './codec.js'
import { quoteIdent } from './dialect.js'
import { classifyPgError } from './errors.js'
import type { PgColumn, PgTable } from './introspect.js'
import { ordered, rowGreater, type PgContext } from './source.js'

/** Six fraction digits when a time has a fraction, as the codec's parseTime writes it. */
function timeText(time: string): string {
  return `CASE WHEN ${time}::text LIKE '%.%' THEN rpad(${time}::text, 15, '0') ELSE ${time}::text END`
}

/**
 * The checksum text of a column value, as SQL (see src/values/row-checksum.ts,
 * checksumText); NULL for NULL. Session settings (TimeZone=UTC, DateStyle=ISO)
 * make the plain casts print what the codec reads.
 */
export function checksumTextSql(column: PgColumn, ref: string): string {
  // Arrays of text and integers print as the canonical JSON array (src/values/array.ts); others stay inexact (row comparison).
  if (column.field.type === 'array' && (column.field.elementType === 'text' || column.field.elementType === 'integer')) return `array_to_json(${ref})::text`
  switch (column.baseType) {
    case 'bool':
      return `CASE WHEN ${ref} THEN '1' WHEN NOT ${ref} THEN '0' END`
    case 'int2':
    case 'int4':
    case 'int8':
    case 'oid':
    case 'date':
      return `${ref}::text`
    case 'numeric':
      return `trim_scale(${ref})::text`
    case 'float4':
    case 'float8': {
      // float4 reads as the shortest decimal naming it (codec decodeFloat4), which its text is.
      const double = column.baseType === 'float4' ? `${ref}::text::float8` : ref
      return `CASE WHEN ${ref} = 0 THEN '0' WHEN ${ref} = 'NaN' THEN 'NaN' ELSE encode(float8send(${double}), 'hex') END`
    }
    case 'bytea':
      return `encode(${ref}, 'hex')`
    case 'bpchar':
      return `rtrim(${ref}::text, ' ')`
    case 'timestamptz':
      return `${ref}::text`
    case 'timestamp':
      return `CASE WHEN isfinite(${ref}) THEN ${ref}::text || '+00' ELSE ${ref}::text END`
    case 'time':
      return timeText(ref)
    case 'timetz':
      return timeText(`(${ref} AT TIME ZONE 'UTC')::time`)
    default:
      // text, varchar, uuid (lower case already), jsonb, enums, arrays…: their text is what the codec keeps.
      return `${ref}::text`
  }
}

/** One field's piece of the hash input: `~` for NULL, `length:text` for free text, else `text|`. */
function pieceSql(table: PgTable, field: ChecksumField): string {
  const ref = quoteIdent(field.name)
  const text = checksumTextSql(columnOf(table, field.name), ref)
  if (FREE_TEXT.has(field.type)) return `CASE WHEN ${ref} IS NULL THEN '~' ELSE octet_length(${text})::text || ':' || ${text} END`
  return `COALESCE(${text} || '|', '~')`
}

/**
 * Row hashes between two PostgreSQL databases: each column is hashed by its
 * type's own hash function with a seed of its own (integers, decimals and
 * timestamps without printing them), the column hashes are XORed and the
 * result hashed again, so that values swapped between rows or columns still
 * change a sum. About twice as fast as `hashtextextended` over the row's
 * text, itself about 8 times faster than md5 (a server of another
 * architecture hashing otherwise only makes ranges look different).
 */
export const HASHTEXT = 'postgres-hashtext'

/** The hash functions this connector computes (Connector.checksumHashes). */
export const CHECKSUM_HASHES = [HASHTEXT, 'md5'] as const

function hashInput(table: PgTable, fields: readonly ChecksumField[]): string {
  return fields.map((f) => pieceSql(table, f)).join(' || ')
}

/**
 * One column's 64-bit hash, equal exactly when the checksum texts are:
 * PostgreSQL's own hash functions where equal values of every native type of
 * that canonical type hash alike (any integer width; numeric of any scale,
 * as `1.5 = 1.50`; timestamptz read in UTC as timestamp), else the checksum
 * text, byte by byte (`COLLATE "C"`: a nondeterministic collation would hash
 * `a` and `A` alike).
 */
function columnHashSql(table: PgTable, field: ChecksumField, seed: number): string {
  const ref = quoteIdent(field.name)
  const column = columnOf(table, field.name)
  let hash: string
  if (field.type === 'integer' && (column.baseType === 'int2' || column.baseType === 'int4' || column.baseType === 'int8')) hash = `hashint8extended(${ref}::int8, ${seed})`
  else if (field.type === 'decimal' && column.baseType === 'numeric') hash = `hash_numeric_extended(${ref}, ${seed})`
  else if (field.type === 'timestamp' && column.baseType === 'timestamptz') hash = `timestamp_hash_extended(${ref} AT TIME ZONE 'UTC', ${seed})`
  else if (field.type === 'timestamp' && column.baseType === 'timestamp') hash = `timestamp_hash_extended(${ref}, ${seed})`
  else hash = `hashtextextended((${checksumTextSql(column, ref)}) COLLATE "C", ${seed})`
  // NULL hashes to a constant of its own column: `~` against any value, as the text form.
  return `COALESCE(${hash}, ${-seed})`
}

function nativeHashSql(table: PgTable, fields: readonly ChecksumField[]): string {
  const hashes = fields.map((f, i) => columnHashSql(table, f, i + 1))
  return `hashint8extended(${hashes.length > 0 ? hashes.join(' # ') : '0'}, 0)`
}

/** The SQL of one row's hash as text, equal for equal hashes (16 hex digits for md5). */
export function rowHashTextSql(table: PgTable, fields: readonly ChecksumField[], hash = 'md5'): string {
  if (hash === HASHTEXT) return `${nativeHashSql(table, fields)}::text`
  return `left(md5(${hashInput(table, fields)}), 16)`
}

/** The SQL of one row's 64-bit hash (signed; sums agree with unsigned ones mod 2^64). */
export function rowHashSql(table: PgTable, fields: readonly ChecksumField[], hash = 'md5'): string {
  if (hash === HASHTEXT) return nativeHashSql(table, fields)
  return `('x' || left(md5(${hashInput(table, fields)}), 16))::bit(64)::bigint`
}

export function requireHash(hash: string | undefined): void {
  if (hash !== undefined && !(CHECKSUM_HASHES as readonly string[]).includes(hash)) {
    throw new SynclineError('INTERNAL', 'internal', `PostgreSQL cannot compute row hash '${hash}' (it offers ${CHECKSUM_HASHES.join(', ')}).`)
  }
}

/** `(a, b) <= ($1, $2)`, the upper bound of a range. */
function rowAtMost(table: PgTable, names: readonly string[], values: KeyValues, params: ParamList): string {
  const left = names.map((n) => ordered(table, n))
  const right = names.map((n, i) => params.add(encodeParam(values[i] ?? null, columnOf(table, n).field)))
  return left.length === 1 ? `${left[0]} <= ${right[0]}` : `(${left.join(', ')}) <= (${right.join(', ')})`
}

/** The WHERE of a range with the source's filters. */
export function rangeWhere(table: PgTable, opts: RangeOptions, range: KeyRange, params: ParamList): string {
  const conditions = [filterCondition(table.dialect, table.fields, opts.filters ?? [], params)]
  if (range.after) conditions.push(rowGreater(table, opts.keys, range.after, params))
  if (range.through) conditions.push(rowAtMost(table, opts.keys, range.through, params))
  return where(conditions)
}

/** Count and checksum one range in one query. */
export async function rangeChecksum(ctx: PgContext, entity: string, opts: RangeChecksumOptions): Promise<RangeChecksum> {
  const table = await ctx.table(entity)
  const params = new ParamList(table.dialect)
  requireHash(opts.hash)
  const sql = `SELECT count(*)::int8 AS count, sum(${rowHashSql(table, opts.fields, opts.hash)})::text AS sum FROM ${table.sql} ${rangeWhere(table, opts, opts.range, params)}`
  try {
    const { rows } = await ctx.pool().query<{ count: number | bigint; sum: string | null }>(sql, params.values)
    return { count: Number(rows[0]?.count ?? 0), sum: reduceChecksum(rows[0]?.sum) }
  } catch (error) {
    throw classifyPgError(error, ctx.errorContext(entity))
  }
}

/** The SELECT of each row's key and hash (as text, or as the int8 row hash) in a range, in key order. */
export function hashesQuery(table: PgTable, opts: RangeChecksumOptions, range: KeyRange, params: ParamList, form: 'text' | 'int8' = 'text'): string {
  const order = opts.keys.map((n) => ordered(table, n)).join(', ')
  const hash = form === 'int8' ? rowHashSql(table, opts.fields, opts.hash) : rowHashTextSql(table, opts.fields, opts.hash)
  return `SELECT ${opts.keys.map(quoteIdent).join(', ')}, ${hash} AS syncline_hash FROM ${table.sql} ${rangeWhere(table, opts, range, params)} ORDER BY ${order}`
}

/** Each row's key and hash in a range, in key order (a bounded range: one plain query). */
export async function rangeHashes(ctx: PgContext, entity: string, opts: RangeChecksumOptions): Promise<KeyHash[]> {
  const table = await ctx.table(entity)
  const params = new ParamList(table.dialect)
  requireHash(opts.hash)
  let sql = hashesQuery(table, opts, opts.range, params)
  if (opts.limit !== undefined) sql += ` LIMIT ${params.add(opts.limit)}`
  try {
    const { rows } = await ctx.pool().query<unknown[]>({ text: sql, values: params.values, rowMode: 'array' })
    const width = opts.keys.length
    return rows.map((row) => ({ key: row.slice(0, width) as KeyValues, hash: row[width] as string }))
  } catch (error) {
    throw classifyPgError(error, ctx.errorContext(entity))
  }
}

/** Every `rows / parts`-th key of the range, in one pass over the key index. */
export async function rangeSplit(ctx: PgContext, entity: string, opts: RangeSplitOptions): Promise<KeyValues[]> {
  const table = await ctx.table(entity)
  const step = Math.max(1, Math.ceil(opts.rows / opts.parts))
  const params = new ParamList(table.dialect)
  const keys = opts.keys.map(quoteIdent).join(', ')
  const order = opts.keys.map((n) => ordered(table, n)).join(', ')
  const sql =
    `SELECT ${keys} FROM (SELECT ${keys}, row_number() OVER (ORDER BY ${order}) AS syncline_n FROM ${table.sql} ${rangeWhere(table, opts, opts.range, params)}) AS s ` +
    `WHERE syncline_n % ${params.add(step)} = 0 ORDER BY ${order} LIMIT ${params.add(opts.parts - 1)}`
  try {
    const { rows } = await ctx.pool().query<Record<string, unknown>>(sql, params.values)
    return rows.map((row) => opts.keys.map((k) => row[k] as KeyValues[number]))
  } catch (error) {
    throw classifyPgError(error, ctx.errorContext(entity))
  }
}
