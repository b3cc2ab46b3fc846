/**
 * Moving serial and identity sequences past the values syncline writes, as
 * pg_dump does after a restore: rows copied with their own ids leave the
 * column's sequence behind, and the application's next INSERT without an id
 * would then collide with a copied row.
 *
 * The sequence only ever moves forward, and only when syncline may read and
 * update it (a writer without those rights keeps working; the sequence stays
 * where it is). Descending sequences are left alone. setval is not undone by
 * a rollback, which is harmless: a sequence that is ahead leaves a gap, never
 * a collision.
 */
import type pg from 'pg'
import type { Row } from '../../values/canonical.js'
import { quoteIdent } from './dialect.js'
import type { PgTable } from './introspect.js'

/** setval($2) on sequence $1 when $2 is beyond its last value (or its start, before the first nextval). */
const ADVANCE_SQL = `
SELECT setval(s.seqrelid, $2::bigint)
  FROM pg_sequence s
 WHERE s.seqrelid = $1::oid AND s.seqincrement > 0 AND $2::bigint <= s.seqmax
   AND CASE WHEN has_sequence_privilege(s.seqrelid, 'UPDATE') AND has_sequence_privilege(s.seqrelid, 'SELECT, USAGE')
            THEN $2::bigint > coalesce(pg_sequence_last_value(s.seqrelid), s.seqstart - 1)
            ELSE false END`

/** The table's columns filled by a sequence, with the sequence's OID. */
function sequenceColumns(table: PgTable, columns?: readonly string[]): Array<[string, number]> {
  const out: Array<[string, number]> = []
  for (const [name, column] of table.columns) {
    if (column.sequence !== undefined && (columns === undefined || columns.includes(name))) out.push([name, column.sequence])
  }
  return out
}

/** Whether any column of the table is filled by a sequence (a write then may move it). */
export function hasSequences(table: PgTable): boolean {
  return sequenceColumns(table).length > 0
}

/**
 * After writing `rows`: move each sequence of the table past the highest
 * value the rows hold in its column. Costs one statement per such column,
 * and none for tables without sequences or rows without their values.
 */
export async function advanceSequencesPast(client: pg.ClientBase, table: PgTable, rows: readonly Row[]): Promise<void> {
  for (const [name, sequence] of sequenceColumns(table)) {
    let highest: bigint | undefined
    for (const row of rows) {
      const value = row[name]
      if ((typeof value !== 'number' || !Number.isInteger(value)) && typeof value !== 'bigint') continue
      const n = BigInt(value)
      if (highest === undefined || n > highest) highest = n
    }
    if (highest !== undefined) await client.query(ADVANCE_SQL, [sequence, String(highest)])
  }
}

/** After a bulk COPY into these columns: move each sequence past the highest value now in its column. */
export async function advanceSequencesToTable(client: pg.ClientBase, table: PgTable, columns: readonly string[]): Promise<void> {
  for (const [name, sequence] of sequenceColumns(table, columns)) {
    const { rows } = await client.query<{ highest: string | null }>(`SELECT max(${quoteIdent(name)})::text AS highest FROM ${table.sql}`)
    const highest = rows[0]?.highest
    if (highest !== null && highest !== undefined) await client.query(ADVANCE_SQL, [sequence, highest])
  }
}
