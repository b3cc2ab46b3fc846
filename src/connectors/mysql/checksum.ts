/**
 * Range checksums computed inside MariaDB/MySQL (`capabilities.rangeChecksum`).
 *
 * Each row's hash is MD5 in SQL over the same text src/values/row-checksum.ts
 * builds in JavaScript from the decoded row, so a MariaDB range and a
 * PostgreSQL or SQLite range holding equal rows sum alike, and only the
 * count and the sum cross the wire. The text of each type follows what the
 * codec (./codec.ts) decodes it to: integers (any width, UNSIGNED, BIT,
 * YEAR, ZEROFILL) as plain digits, TINYINT(1) and BIT(1) as `1`/`0`,
 * DECIMAL without the trailing zeros of its scale, DATETIME and TIMESTAMP
 * (in the session's UTC) to the microsecond as PostgreSQL prints a UTC
 * timestamp, DATE, TIME with six fraction digits only when it has a
 * fraction, text types (CHAR read without its padding, as the server
 * returns it) and ENUM as UTF-8 with their byte length, binary types as
 * lower-case hex, UUID, SET as the canonical JSON array of its members,
 * spatial types as WKT.
 *
 * FLOAT and DOUBLE (the canonical text is the IEEE 754 bits, which SQL
 * cannot produce exactly), JSON (MariaDB prints documents its own way, not
 * as canonical JSON), SET members that JSON would escape, and types the
 * codec has no exact reading for (INET6…) are not spelled in SQL: a call
 * whose fields include one hashes the decoded scan instead
 * (src/connectors/sql/scan-checksum.ts), exact but every row crosses the
 * wire. So does a range with a row whose hash input SQL could not build
 * (longer than max_allowed_packet: MariaDB's string functions return NULL
 * then), so such a row never hides a difference.
 *
 * Values the codec refuses (zero dates, TIME beyond 24 hours) get a text no
 * valid value has: their range reads as different and the lookup that
 * follows reports the record, as a scan would.
 */
import type { RowDataPacket } from 'mysql2/promise'
import { throwIfAborted } from '../../errors.js'
import type { KeyValues, Row } from '../../values/canonical.js'
import { FREE_TEXT, reduceChecksum } from '../../values/row-checksum.js'
import type { ChecksumField, KeyHash, RangeChecksum, RangeChecksumOptions, RangeOptions } from '../connector.js'
import { columnOf } from '../sql/key-rows.js'
import { checksumByScan, hashesByScan, requireMd5 } from '../sql/scan-checksum.js'
import { ParamList, filterCondition, keysetCondition, keysetThroughCondition, orderBy, where } from '../sql/sql-builder.js'
import { encodeParam, type Param } from './codec.js'
import { quoteIdent } from './dialect.js'
import { classifyMysqlError } from './errors.js'
import { TEXT_TYPES, type MyColumn, type MyTable } from './introspect.js'
import { rowDecoder, scanRows, selectList, type MyContext } from './source.js'

/**
 * Text as UTF-8 in one fixed collation: byte lengths are UTF-8 lengths, and
 * pieces of any column's collation concatenate. A utf8mb4 column only gets
 * the collation (converting it anyway cost 10% of a whole-table checksum).
 */
function utf8(expression: string, charset: string | null = null): string {
  return charset === 'utf8mb4' ? `${expression} COLLATE utf8mb4_bin` : `CONVERT(${expression} USING utf8mb4) COLLATE utf8mb4_bin`
}

/** `CASE WHEN x <> 0 …`: MySQL's integer-valued NULL-safe spelling of a truth value. */
function truth(ref: string): string {
  return `CASE WHEN ${ref} <> 0 THEN '1' WHEN ${ref} = 0 THEN '0' END`
}

/** `.ffffff` without trailing zeros, or nothing for a whole second (`timestampText` in row-checksum.ts). */
function trimmedFraction(ref: string): string {
  return `IF(MICROSECOND(${ref}) = 0, '', CONCAT('.', TRIM(TRAILING '0' FROM DATE_FORMAT(${ref}, '%f'))))`
}

/** Whether JSON.stringify escapes something in a SET member (a quote, a backslash, a control character). */
const escapedInJson = (member: string): boolean => JSON.stringify(member) !== `"${member}"`

/**
 * The checksum text of a column value, as SQL over `ref` (see
 * src/values/row-checksum.ts, checksumText), or undefined where SQL cannot
 * spell it exactly as the codec decodes it (see the file comment). Called
 * only for non-NULL values.
 */
export function checksumTextSql(column: MyColumn, ref: string): string | undefined {
  const { field, dataType } = column
  switch (field.type) {
    case 'boolean':
      return truth(ref)
    case 'integer':
      // `+ 0` drops ZEROFILL's zeros and reads BIT and YEAR as numbers, as the codec does.
      return `CAST(${ref} + 0 AS CHAR)`
    case 'decimal': {
      const digits = /zerofill/i.test(field.nativeType ?? '') ? `CAST(${ref} + 0 AS CHAR)` : `CAST(${ref} AS CHAR)`
      // normalizeDecimal: no trailing zeros of the scale, no `-0`.
      const trimmed = (field.scale ?? 0) > 0 ? `TRIM(TRAILING '.' FROM TRIM(TRAILING '0' FROM ${digits}))` : digits
      return `CASE WHEN ${ref} = 0 THEN '0' ELSE ${trimmed} END`
    }
    case 'timestamp':
    case 'localtimestamp':
      // Both are spelled as PostgreSQL prints a UTC timestamp; TIMESTAMP reads in the session's UTC.
      if (dataType !== 'datetime' && dataType !== 'timestamp') return undefined
      return `CONCAT(DATE_FORMAT(${ref}, '%Y-%m-%d %H:%i:%s'), ${trimmedFraction(ref)}, '+00')`
    case 'date':
      return `DATE_FORMAT(${ref}, '%Y-%m-%d')`
    case 'time':
      return `CONCAT(TIME_FORMAT(${ref}, '%H:%i:%s'), IF(MICROSECOND(${ref}) = 0, '', TIME_FORMAT(${ref}, '.%f')))`
    case 'bytes':
      return `LOWER(HEX(${ref}))`
    case 'uuid':
      return `LOWER(${utf8(ref, column.charset)})`
    case 'enum':
      return utf8(ref, column.charset)
    case 'text':
      if (TEXT_TYPES.has(dataType)) return utf8(ref, column.charset)
      // Spatial types: the WKT the scan reads them as (introspect.ts, readExpression).
      return field.nativeAsText && column.read !== quoteIdent(field.name) ? utf8(column.read.replace(quoteIdent(field.name), ref)) : undefined
    case 'array': {
      // A SET: its members in definition order, joined by commas (none holds one), as a JSON array of strings.
      if (dataType !== 'set' || (field.enumValues ?? []).some(escapedInJson)) return undefined
      const members = utf8(ref, column.charset)
      return `CASE WHEN LENGTH(${members}) = 0 THEN '[]' ELSE CONCAT('["', REPLACE(${members}, ',', '","'), '"]') END`
    }
    case 'float':
    case 'json':
      return undefined
  }
}

/** One field's piece of the hash input: `~` for NULL, `length:text` for free text, else `text|`; undefined when SQL cannot spell it. */
function pieceSql(table: MyTable, field: ChecksumField): string | undefined {
  const column = columnOf(table, field.name)
  // A field hashed as another type than the column reads as: only the decoded value can be converted.
  if (column.field.type !== field.type) return undefined
  const ref = `${table.sql}.${quoteIdent(field.name)}`
  const text = checksumTextSql(column, ref)
  if (text === undefined) return undefined
  // An unexpected NULL text makes the whole input NULL (then the scan decides), never `~`.
  const piece = FREE_TEXT.has(field.type) ? `CONCAT(LENGTH(${text}), ':', ${text})` : `CONCAT(${text}, '|')`
  return column.field.nullable ? `CASE WHEN ${ref} IS NULL THEN '~' ELSE ${piece} END` : piece
}

/** MD5 of a row's hash input as SQL, or undefined when some field cannot be spelled in SQL. */
function md5Sql(table: MyTable, fields: readonly ChecksumField[]): string | undefined {
  const pieces = fields.map((f) => pieceSql(table, f))
  if (pieces.some((p) => p === undefined)) return undefined
  return `MD5(${pieces.length > 0 ? `CONCAT(${pieces.join(', ')})` : "''"})`
}

/** The WHERE of a range with the source's filters, built as the scans build theirs (source.ts, scanQuery). */
function rangeWhere(table: MyTable, opts: RangeOptions, params: ParamList): string {
  for (const name of [...opts.keys, ...(opts.filters ?? []).map((f) => f.field)]) columnOf(table, name)
  const conditions = [filterCondition(table.dialect, table.fields, opts.filters ?? [], params)]
  if (opts.range.after) conditions.push(keysetCondition(table.dialect, table.fields, opts.keys, opts.range.after, params))
  if (opts.range.through) conditions.push(keysetThroughCondition(table.dialect, table.fields, opts.keys, opts.range.through, params))
  return where(conditions)
}

async function select(ctx: MyContext, table: MyTable, sql: string, params: ParamList): Promise<RowDataPacket[]> {
  try {
    const [rows] = await ctx.pool().execute<RowDataPacket[]>(sql, params.values as Param[])
    return rows
  } catch (error) {
    throw classifyMysqlError(error, ctx.errorContext(table.info.name))
  }
}

/** A row count as a BIGINT parameter (LIMIT takes no double). */
function rowCountParam(n: number): Param {
  return encodeParam(Math.max(0, Math.floor(n)), { type: 'integer' })
}

/** The connector's own scan, for the calls SQL cannot answer exactly. */
const scanOf = (ctx: MyContext) => (entity: string, opts: Parameters<typeof scanRows>[2]) => scanRows(ctx, entity, opts)

/** The table and its rows' MD5 as SQL; undefined when a field cannot be spelled in SQL (the call goes to the scan). */
async function hashedInSql(ctx: MyContext, entity: string, opts: RangeChecksumOptions): Promise<{ table: MyTable; md5: string } | undefined> {
  requireMd5(opts)
  throwIfAborted(opts.signal)
  const table = await ctx.table(entity)
  const md5 = md5Sql(table, opts.fields)
  return md5 === undefined ? undefined : { table, md5 }
}

/**
 * What a row without a hash (its input could not be built) adds to a sum:
 * 2^110, more than 2^46 rows of 64-bit hashes add up to, so a sum at least
 * this big tells such a row in one pass (a COUNT of the hashes beside the
 * SUM made MariaDB compute every hash twice: 1.3 s against 0.7 s for
 * 200,000 rows).
 */
const NULL_HASH = 1n << 110n

/** Count and checksum one range in one query (or over the scan, see the file comment). */
export async function rangeChecksum(ctx: MyContext, entity: string, opts: RangeChecksumOptions): Promise<RangeChecksum> {
  const inSql = await hashedInSql(ctx, entity, opts)
  if (!inSql) return checksumByScan(scanOf(ctx), entity, opts)
  const { table, md5 } = inSql
  const params = new ParamList(table.dialect)
  // Hashes as BIGINT UNSIGNED; their SUM is an exact DECIMAL, and a NULL hash adds NULL_HASH.
  const hash = `COALESCE(CAST(CONV(LEFT(${md5}, 16), 16, 10) AS UNSIGNED), ${NULL_HASH})`
  const sql = `SELECT COUNT(*) AS count, SUM(${hash}) AS sum FROM ${table.sql} ${rangeWhere(table, opts, params)}`
  const row = (await select(ctx, table, sql, params))[0]
  const sum = BigInt((row?.sum as string | null | undefined) ?? 0)
  if (sum >= NULL_HASH) return checksumByScan(scanOf(ctx), entity, opts)
  return { count: Number(row?.count ?? 0), sum: reduceChecksum(sum) }
}

/** Each row's key and hash (16 hex digits) in a range, in key order, at most `opts.limit` of them. */
export async function rangeHashes(ctx: MyContext, entity: string, opts: RangeChecksumOptions): Promise<KeyHash[]> {
  const inSql = await hashedInSql(ctx, entity, opts)
  if (!inSql) return hashesByScan(scanOf(ctx), entity, opts)
  const { table, md5 } = inSql
  const params = new ParamList(table.dialect)
  let sql = `SELECT ${selectList(table, opts.keys)}, LEFT(${md5}, 16) AS syncline_hash FROM ${table.sql} ${rangeWhere(table, opts, params)} ${orderBy(table.dialect, table.fields, opts.keys)}`
  if (opts.limit !== undefined) sql += ` LIMIT ${params.add(rowCountParam(opts.limit))}`
  const rows = (await select(ctx, table, sql, params)) as Row[]
  if (rows.some((r) => r.syncline_hash === null)) return hashesByScan(scanOf(ctx), entity, opts)
  const decoded = rowDecoder(table, opts.keys, opts.keys)(rows)
  return decoded.map((row) => ({ key: opts.keys.map((k) => row[k] ?? null) as KeyValues, hash: String(row.syncline_hash) }))
}
