/**
 * Timestamps held as text in more than one spelling, for MySQL and MariaDB
 * (see `Connector.timestampSpellings`): a spelling is the value with every
 * digit replaced by `9`, plus a trailing UTC offset kept as written. Values
 * are compared as binary, the order a text cursor is scanned in, whatever
 * the column's collation (a `_ci` one would take `T` and `t` for one).
 */
import type { RowDataPacket } from 'mysql2/promise'
import type { TimestampSpellings } from '../connector.js'
import { quoteIdent } from './dialect.js'
import { classifyMysqlError } from './errors.js'
import { columnOf } from '../sql/key-rows.js'
import type { MyContext } from './source.js'

/** At most this many spellings are sampled. */
const SPELLINGS = 4

/** Samples of each spelling of the date-like values of a text field, when there is more than one. */
export async function timestampSpellings(ctx: MyContext, entity: string, field: string): Promise<TimestampSpellings | undefined> {
  const table = await ctx.table(entity)
  columnOf(table, field)
  const c = quoteIdent(field)
  const spelling = `CAST(CONCAT(REGEXP_REPLACE(${c}, '[0-9]', '9'), CASE WHEN CHAR_LENGTH(${c}) > 19 THEN COALESCE(REGEXP_SUBSTR(${c}, '[+-][0-9]{2}(:?[0-9]{2})?$'), '') ELSE '' END) AS BINARY)`
  const sql =
    `SELECT MIN(v) AS low, MAX(v) AS high FROM (SELECT CAST(${c} AS BINARY) AS v, ${spelling} AS s FROM ${table.sql} WHERE ${c} REGEXP '^[0-9]{4}-[0-9]{2}-[0-9]{2}') AS t ` +
    `GROUP BY s ORDER BY low LIMIT ${SPELLINGS}`
  let rows: RowDataPacket[]
  try {
    ;[rows] = await ctx.pool().query<RowDataPacket[]>(sql)
  } catch (error) {
    throw classifyMysqlError(error, ctx.errorContext(table.info.name))
  }
  if (rows.length < 2) return undefined
  const text = (value: unknown) => (Buffer.isBuffer(value) ? value.toString('utf8') : String(value))
  return {
    samples: rows.flatMap((r) => (text(r.low) === text(r.high) ? [text(r.low)] : [text(r.low), text(r.high)])),
    fix: `store one spelling in every row (e.g. 2025-01-06 13:00:00 in UTC), or use a DATETIME(6) column, which syncline compares as instants`,
  }
}
