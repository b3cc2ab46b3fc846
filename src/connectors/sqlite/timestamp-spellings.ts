/**
 * Timestamps held as text in more than one spelling (see
 * `Connector.timestampSpellings`), for SQLite and the file
 * connector's private SQLite. A spelling is the value with every digit
 * replaced by `9`, plus a trailing UTC offset kept as written: two values
 * of one spelling compare as text the way they compare as instants.
 */
import type Database from 'better-sqlite3'
import type { TimestampSpellings } from '../connector.js'
import { quoteIdent } from './dialect.js'

/** At most this many spellings are sampled. */
const SPELLINGS = 4

const D = '[0-9]'
const DATE_LIKE = `${D.repeat(4)}-${D.repeat(2)}-${D.repeat(2)}*`

/** The spelling of a text cell: digits → 9, then its offset (`+02:00`, `-0500`, `+01`) when it has a time. */
function spelling(column: string): string {
  let digitsAsNine = column
  for (let digit = 0; digit <= 8; digit++) digitsAsNine = `replace(${digitsAsNine}, '${digit}', '9')`
  const offset = (glob: string, length: number) => `WHEN length(${column}) > 19 AND ${column} GLOB '*[+-]${glob}' THEN substr(${column}, -${length})`
  return `${digitsAsNine} || CASE ${offset(`${D}${D}:${D}${D}`, 6)} ${offset(D.repeat(4), 5)} ${offset(D.repeat(2), 3)} ELSE '' END`
}

/**
 * The lowest and highest value of each spelling of the date-like text
 * values of `field`, when there is more than one spelling; undefined
 * otherwise. One pass over the table.
 */
export function timestampSpellingSamples(db: Database.Database, table: string, field: string): string[] | undefined {
  const column = quoteIdent(field)
  const rows = db
    .prepare(
      `SELECT min(v) AS low, max(v) AS high FROM (SELECT ${column} AS v, ${spelling(column)} AS s FROM ${quoteIdent(table)} WHERE typeof(${column}) = 'text' AND ${column} GLOB '${DATE_LIKE}') GROUP BY s ORDER BY low LIMIT ${SPELLINGS}`,
    )
    .all() as { low: string; high: string }[]
  if (rows.length < 2) return undefined
  return rows.flatMap((r) => (r.low === r.high ? [r.low] : [r.low, r.high]))
}

/** {@link timestampSpellingSamples} of a SQLite table, with the fix in SQLite's terms. */
export function sqliteTimestampSpellings(db: Database.Database, table: string, field: string): TimestampSpellings | undefined {
  const samples = timestampSpellingSamples(db, table, field)
  if (!samples) return undefined
  const column = quoteIdent(field)
  return {
    samples,
    fix:
      `store one spelling in every row, e.g. UPDATE ${quoteIdent(table)} SET ${column} = strftime('%Y-%m-%dT%H:%M:%fZ', ${column}) ` +
      `(strftime keeps milliseconds), or use a column declared DATETIME or TIMESTAMP, which syncline compares as instants`,
  }
}
