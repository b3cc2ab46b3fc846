/**
 * Keys that a case-insensitive (or accent-insensitive, or PAD SPACE)
 * collation would merge.
 *
 * A destination key column in `utf8mb4_general_ci` holds 'a' and 'A' as one
 * key, so `INSERT … ON DUPLICATE KEY UPDATE` of both would silently make one
 * row out of two source records, and every later run would flip it back and
 * forth. Before a chunk of rows is written to such a table, the database
 * itself is asked, in the column's own collation, whether two keys of the
 * chunk are equal, or whether a key equals an existing row's key that
 * differs in bytes (rows written earlier in the same batch included). Either
 * is a KEY_NOT_UNIQUE config error: the fix is a binary collation.
 */
import type { PoolConnection, RowDataPacket } from 'mysql2/promise'
import { SynclineError } from '../../errors.js'
import type { Row, Value } from '../../values/canonical.js'
import { encodeParam, type Param } from './codec.js'
import { quoteIdent } from './dialect.js'
import type { MyColumn, MyTable } from './introspect.js'
import { columnOf } from '../sql/key-rows.js'
import { formatValue } from './source.js'

/** Whether writes to these key fields need the check (some key column merges keys). */
export function needsCollisionCheck(table: MyTable, keys: readonly string[]): boolean {
  return keys.some((k) => columnOf(table, k).mergesKeys)
}

/** `CONVERT(s.k USING cs) COLLATE coll`: a derived-table value in the column's collation. */
function inCollation(column: MyColumn, ref: string): string {
  return column.mergesKeys && column.charset && column.collation ? `CONVERT(${ref} USING ${column.charset}) COLLATE ${column.collation}` : ref
}

/** A value read back as bytes (`BINARY x`) as text again. */
function asText(value: unknown): Value {
  return Buffer.isBuffer(value) ? value.toString('utf8') : (value as Value)
}

/**
 * Throw KEY_NOT_UNIQUE when two of `rows` (already distinct by exact key)
 * have keys the table's collation holds equal, or a row's key equals an
 * existing row's key that differs in bytes.
 */
export async function checkKeyCollisions(connection: PoolConnection, table: MyTable, keys: readonly string[], rows: readonly Row[]): Promise<void> {
  if (rows.length === 0) return
  const columns = keys.map((k) => columnOf(table, k))
  const aliases = keys.map((_, i) => `k${i}`)
  const params: Param[] = []
  const selects = rows.map((row, r) => {
    columns.forEach((c) => params.push(encodeParam(row[c.field.name] ?? null, c.field)))
    return r === 0 ? `SELECT ${aliases.map((a) => `? AS ${a}`).join(', ')}` : `SELECT ${aliases.map(() => '?').join(', ')}`
  })
  const source = `(${selects.join(' UNION ALL ')}) AS s`
  const merging = columns.map((c, i) => ({ column: c, alias: aliases[i]! })).filter((m) => m.column.mergesKeys)

  if (rows.length > 1) {
    const grouped = columns.map((c, i) => inCollation(c, `s.${aliases[i]}`)).join(', ')
    const [dupes] = await connection.execute<RowDataPacket[]>(
      `SELECT ${merging.map((m) => `MIN(BINARY s.${m.alias}) AS a_${m.alias}, MAX(BINARY s.${m.alias}) AS b_${m.alias}`).join(', ')}
         FROM ${source} GROUP BY ${grouped} HAVING COUNT(*) > 1 LIMIT 1`,
      params,
    )
    const dupe = dupes[0]
    if (dupe) {
      const m = merging.find((x) => String(asText(dupe[`a_${x.alias}`])) !== String(asText(dupe[`b_${x.alias}`]))) ?? merging[0]!
      throw collision(table, m.column, asText(dupe[`a_${m.alias}`]), asText(dupe[`b_${m.alias}`]), 'both are in the source')
    }
  }

  const match = columns.map((c, i) => `t.${quoteIdent(c.field.name)} = ${inCollation(c, `s.${aliases[i]}`)}`).join(' AND ')
  const sameBytes = merging.map((m) => `BINARY t.${quoteIdent(m.column.field.name)} = BINARY CONVERT(s.${m.alias} USING ${m.column.charset ?? 'utf8mb4'})`).join(' AND ')
  const [clashes] = await connection.execute<RowDataPacket[]>(
    `SELECT ${merging.map((m) => `t.${quoteIdent(m.column.field.name)} AS t_${m.alias}, s.${m.alias} AS s_${m.alias}`).join(', ')}
       FROM ${source} JOIN ${table.sql} AS t ON ${match} WHERE NOT (${sameBytes}) LIMIT 1`,
    params,
  )
  const clash = clashes[0]
  if (clash) {
    const m = merging.find((x) => String(asText(clash[`t_${x.alias}`])) !== String(asText(clash[`s_${x.alias}`]))) ?? merging[0]!
    throw collision(table, m.column, asText(clash[`s_${m.alias}`]), asText(clash[`t_${m.alias}`]), 'the table already has the second')
  }
}

function collision(table: MyTable, column: MyColumn, a: Value, b: Value, how: string): SynclineError {
  const name = column.field.name
  const binary = column.charset === 'utf8mb4' ? 'utf8mb4_nopad_bin (MariaDB) or utf8mb4_0900_bin (MySQL 8)' : `a _bin collation of ${column.charset}`
  return new SynclineError(
    'KEY_NOT_UNIQUE',
    'config',
    `Entity '${table.info.name}': key field ${name} uses collation ${column.collation}, which holds ${formatValue(a)} and ${formatValue(b)} as the same key, but they are different records (${how}). ` +
      `Writing both would merge them into one row. Give the column a binary collation, e.g. ALTER TABLE ${table.sql} MODIFY ${quoteIdent(name)} ${column.field.nativeType.replace(/ COLLATE .*/, '')} COLLATE ${binary.split(' ')[0]}${column.field.nullable ? '' : ' NOT NULL'} (${binary}), or let syncline create the table (create: true).`,
    { details: { entity: table.info.name, field: name, collation: column.collation, keys: [a, b].map((v) => formatValue(v)) } },
  )
}
