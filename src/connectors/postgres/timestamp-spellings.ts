/**
 * Timestamps held as text in more than one spelling, for PostgreSQL (see
 * `Connector.timestampSpellings`): a spelling is the value with every digit
 * replaced by `9`, plus a trailing UTC offset kept as written. Values are
 * sampled in `COLLATE "C"`, the order a text cursor is scanned in.
 */
import type { TimestampSpellings } from '../connector.js'
import { quoteIdent } from './dialect.js'
import { classifyPgError } from './errors.js'
import { columnOf } from '../sql/key-rows.js'
import type { PgContext } from './source.js'

/** At most this many spellings are sampled. */
const SPELLINGS = 4

/** Samples of each spelling of the date-like values of a text field, when there is more than one. */
export async function timestampSpellings(ctx: PgContext, entity: string, field: string): Promise<TimestampSpellings | undefined> {
  const table = await ctx.table(entity)
  columnOf(table, field)
  const c = `${quoteIdent(field)}::text COLLATE "C"`
  const spelling = `regexp_replace(${c}, '[0-9]', '9', 'g') || CASE WHEN length(${c}) > 19 THEN coalesce(substring(${c} from '[+-][0-9]{2}(?::?[0-9]{2})?$'), '') ELSE '' END`
  const sql =
    `SELECT min(v) AS low, max(v) AS high FROM (SELECT ${c} AS v, ${spelling} AS s FROM ${table.sql} WHERE ${c} ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}') AS t ` +
    `GROUP BY s ORDER BY low LIMIT ${SPELLINGS}`
  let rows: { low: string; high: string }[]
  try {
    rows = (await ctx.pool().query<{ low: string; high: string }>(sql)).rows
  } catch (error) {
    throw classifyPgError(error, ctx.errorContext(entity))
  }
  if (rows.length < 2) return undefined
  return {
    samples: rows.flatMap((r) => (r.low === r.high ? [r.low] : [r.low, r.high])),
    fix: `convert the column to a timestamp type, which syncline compares as instants (ALTER TABLE ${table.sql} ALTER COLUMN ${quoteIdent(field)} TYPE timestamptz USING ${quoteIdent(field)}::timestamptz), or store one spelling in every row`,
  }
}
