/**
 * The statements that write a group of rows (same columns, keys first).
 *
 * - `upsertRows`: multi-row prepared `INSERT … VALUES (…), (…) ON DUPLICATE
 *   KEY UPDATE c = VALUES(c)`. MySQL does not rewrite a row whose values
 *   did not change (it counts 0 affected rows for it), so a replayed batch
 *   changes nothing. Used when a unique index is exactly the sync keys and
 *   no other unique index could be hit (ON DUPLICATE KEY fires on any
 *   unique index, and would then update the wrong row).
 * - `updateThenInsert`: otherwise; reads which keys exist, UPDATEs those
 *   rows one by one and INSERTs the rest in multi-row statements.
 *
 * Rows go in chunks of fixed sizes (a full chunk, then powers of two for
 * the rest) so each connection prepares only a dozen statements per column
 * set and reuses them, within MySQL's 65,535 placeholders per statement and
 * the server's max_allowed_packet. Multi-row prepared inserts were the
 * fastest way into MariaDB measured here (~333k rows/s, PITFALLS.md).
 */
import type { PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise'
import { RecordError } from '../../errors.js'
import type { KeyValues, Row, Value } from '../../values/canonical.js'
import { encodeParam, encodeValue, type Param } from './codec.js'
import { quoteIdent } from './dialect.js'
import { columnInMessage, isDataError, rowInMessage } from './errors.js'
import type { MyColumn, MyTable } from './introspect.js'
import { checkKeyCollisions } from './key-collisions.js'
import { statementBudget, wireBound } from './packet-size.js'
import { columnOf, keyText } from '../sql/key-rows.js'
import { describeKey, keysCondition, KEYS_PER_STATEMENT, selectList } from './source.js'
import { versionParts, type ServerInfo } from './server.js'

/** Most placeholders one prepared statement may have. */
const MAX_PLACEHOLDERS = 65_535

/** Most rows per INSERT statement (measured on 200,000 rows: 100 → 110k rows/s, 250-1,000 → 125-150k rows/s). */
export const ROWS_PER_STATEMENT = 500

/** How a group is written, and what it needs to know. */
export interface WriteTarget {
  connection: PoolConnection
  table: MyTable
  server: ServerInfo
  /** Key fields (also the first columns). */
  keys: readonly string[]
  /** Every column written, keys first. */
  columns: readonly MyColumn[]
  /** Check every chunk for keys the key columns' collation would merge. */
  checkCollisions: boolean
}

/** Whether a unique index is exactly `keys`, and no other unique index can be hit by the written columns. */
export function canUpsert(table: MyTable, keys: readonly string[], columns: readonly MyColumn[]): boolean {
  const wanted = [...keys].sort().join('\u0000')
  const matching = table.uniqueIndexes.find((i) => !i.prefix && [...i.columns].sort().join('\u0000') === wanted)
  if (!matching) return false
  const written = new Set(columns.map((c) => c.field.name))
  return table.uniqueIndexes.every((index) => {
    if (index === matching) return true
    // Only an AUTO_INCREMENT column that is never written cannot collide.
    if (index.columns.length !== 1 || written.has(index.columns[0]!)) return false
    return table.columns.get(index.columns[0]!)?.autoIncrement === true
  })
}

/**
 * Split rows into statement chunks: full chunks of `rowsPerStatement`, the
 * rest in powers of two, and any chunk whose values would exceed the
 * packet budget halved until it fits.
 */
export function chunkRows(rows: readonly Row[], columns: readonly MyColumn[], rowsPerStatement: number, packetBudget: number): Row[][] {
  const chunks: Row[][] = []
  const sizes = (count: number): number[] => {
    const out: number[] = []
    let rest = count
    while (rest >= rowsPerStatement) {
      out.push(rowsPerStatement)
      rest -= rowsPerStatement
    }
    for (let size = 1 << Math.floor(Math.log2(Math.max(rest, 1))); rest > 0; size >>= 1) {
      if (size <= rest) {
        out.push(size)
        rest -= size
      }
    }
    return out
  }
  const names = columns.map((c) => c.field.name)
  const bytes = (chunk: readonly Row[]) => {
    let total = 0
    for (const row of chunk) for (const name of names) total += wireBound(row[name])
    return total
  }
  const split = (chunk: Row[]) => {
    if (chunk.length > 1 && bytes(chunk) > packetBudget) {
      // Halve at a power of two, so the pieces reuse prepared statements too.
      const half = 1 << Math.floor(Math.log2(chunk.length - 1))
      split(chunk.slice(0, half))
      split(chunk.slice(half))
      return
    }
    chunks.push(chunk)
  }
  let at = 0
  for (const size of sizes(rows.length)) {
    split(rows.slice(at, at + size))
    at += size
  }
  return chunks
}

/** Rows per statement for a column count: the placeholder limit, at most {@link ROWS_PER_STATEMENT}. */
function rowsPerStatement(columns: number): number {
  return Math.max(1, Math.min(ROWS_PER_STATEMENT, Math.floor(MAX_PLACEHOLDERS / Math.max(columns, 1))))
}

/** Statement parameters of rows, column by column. */
function rowParams(columns: readonly MyColumn[], rows: readonly Row[]): Param[] {
  const params = new Array<Param>(rows.length * columns.length)
  let i = 0
  for (const row of rows) for (const column of columns) params[i++] = encodeValue(row[column.field.name] ?? null, column.field)
  return params
}

/**
 * A data error of a multi-row statement, pinned to its record: MySQL says
 * `at row N`, and the chunk says which record that is.
 */
function withRecord(error: unknown, table: MyTable, keys: readonly string[], chunk: readonly Row[]): unknown {
  if (!isDataError(error)) return error
  const message = (error as Error).message
  const index = rowInMessage(message)
  const row = index !== undefined ? chunk[index - 1] : chunk.length === 1 ? chunk[0] : undefined
  if (!row) return error
  const field = columnInMessage(message)
  const errno = (error as { errno?: number }).errno
  const reason = errno === 1048 ? 'NULL is not allowed (the column is NOT NULL)' : message.replace(/ at row \d+/, '')
  return new RecordError('VALUE_REJECTED', 'data', `Entity '${table.info.name}' rejected a record (${describeKey(keys, row)}): ${field !== undefined ? `${field}: ` : ''}${reason}.`, {
    cause: error,
    details: { entity: table.info.name, field, key: keys.map((k) => row[k] ?? null), errno },
  })
}

/** `INSERT INTO t (cols) VALUES (?, ?), (?, ?)`. */
function insertSql(target: WriteTarget, count: number): string {
  const row = `(${target.columns.map((c) => c.write).join(', ')})`
  return `INSERT INTO ${target.table.sql} (${target.columns.map((c) => quoteIdent(c.field.name)).join(', ')}) VALUES ${new Array<string>(count).fill(row).join(', ')}`
}

/** MySQL 8.0.19+ takes `INSERT … AS alias ON DUPLICATE KEY UPDATE c = alias.c`. */
function supportsRowAlias(server: ServerInfo): boolean {
  const [major = 0, minor = 0, patch = 0] = versionParts(server.version)
  return server.flavor === 'MySQL' && (major > 8 || (major === 8 && (minor > 0 || patch >= 19)))
}

/**
 * The ON DUPLICATE KEY clause: MySQL 8.0.19+ names the new row by an alias
 * (VALUES() is deprecated there); MariaDB only has VALUES().
 */
function onDuplicate(target: WriteTarget): string {
  const others = target.columns.filter((c) => !target.keys.includes(c.field.name)).map((c) => quoteIdent(c.field.name))
  const alias = supportsRowAlias(target.server)
  const update = others.length === 0 ? [quoteIdent(target.keys[0]!)].map((k) => `${k} = ${k}`) : others.map((c) => (alias ? `${c} = syncline_new.${c}` : `${c} = VALUES(${c})`))
  return `${alias ? ' AS syncline_new' : ''} ON DUPLICATE KEY UPDATE ${update.join(', ')}`
}

/**
 * Rows inserted or changed by one INSERT … ON DUPLICATE KEY UPDATE. Without
 * found-rows, MySQL counts 1 per insert, 2 per changed row and 0 per
 * unchanged row, and its info says how many rows were updated
 * (`Records: 3  Duplicates: 1`): inserted + changed = affected - duplicates.
 */
function upsertedCount(result: ResultSetHeader, rows: number): number {
  const duplicates = /Duplicates:\s*(\d+)/.exec(result.info ?? '')?.[1]
  if (duplicates === undefined) return Math.min(result.affectedRows, rows)
  return result.affectedRows - Number(duplicates)
}

/** Write rows with multi-row INSERT … ON DUPLICATE KEY UPDATE; returns rows inserted or changed. */
export async function upsertRows(target: WriteTarget, rows: readonly Row[]): Promise<number> {
  const { connection, table, columns, keys } = target
  let written = 0
  for (const chunk of chunkRows(rows, columns, rowsPerStatement(columns.length), statementBudget(target.server.maxAllowedPacket))) {
    if (target.checkCollisions) await checkKeyCollisions(connection, table, keys, chunk)
    try {
      const [result] = await connection.execute<ResultSetHeader>(insertSql(target, chunk.length) + onDuplicate(target), rowParams(columns, chunk))
      written += upsertedCount(result, chunk.length)
    } catch (error) {
      throw withRecord(error, table, keys, chunk)
    }
  }
  return written
}

/**
 * Without a unique index on the keys: find which keys exist, UPDATE those
 * rows (only changed rows count), INSERT the others.
 */
export async function updateThenInsert(target: WriteTarget, rows: readonly Row[]): Promise<number> {
  const { connection, table, columns, keys } = target
  const keyColumns = columns.filter((c) => keys.includes(c.field.name))
  const others = columns.filter((c) => !keys.includes(c.field.name))
  const existing = new Set<string>()
  for (let i = 0; i < rows.length; i += KEYS_PER_STATEMENT) {
    const params: Param[] = []
    const chunk = rows.slice(i, i + KEYS_PER_STATEMENT)
    const condition = keysCondition(table, keys, chunk.map((r) => keys.map((k) => r[k] ?? null)), params)
    const [found] = await connection.execute<RowDataPacket[]>(`SELECT ${selectList(table, keys)} FROM ${table.sql} WHERE ${condition} FOR UPDATE`, params)
    for (const row of found as Row[]) existing.add(keyText(keys.map((k) => canonicalKey(row[k] ?? null, columnOf(table, k)))))
  }
  const updates: Row[] = []
  const inserts: Row[] = []
  for (const row of rows) (existing.has(keyText(keys.map((k) => row[k] ?? null))) ? updates : inserts).push(row)

  let written = 0
  if (updates.length > 0 && others.length > 0) {
    const sql = `UPDATE ${table.sql} SET ${others.map((c) => `${quoteIdent(c.field.name)} = ${c.write}`).join(', ')} WHERE ${keyColumns.map((c) => `${quoteIdent(c.field.name)} = ?`).join(' AND ')}`
    for (const row of updates) {
      const params = [...others.map((c) => encodeValue(row[c.field.name] ?? null, c.field)), ...keyColumns.map((c) => encodeParam(row[c.field.name] ?? null, c.field))]
      try {
        const [result] = await connection.execute<ResultSetHeader>(sql, params)
        written += result.affectedRows > 0 ? 1 : 0
      } catch (error) {
        throw withRecord(error, table, keys, [row])
      }
    }
  }
  for (const chunk of chunkRows(inserts, columns, rowsPerStatement(columns.length), statementBudget(target.server.maxAllowedPacket))) {
    if (target.checkCollisions) await checkKeyCollisions(connection, table, keys, chunk)
    try {
      const [result] = await connection.execute<ResultSetHeader>(insertSql(target, chunk.length), rowParams(columns, chunk))
      written += result.affectedRows
    } catch (error) {
      throw withRecord(error, table, keys, chunk)
    }
  }
  return written
}

/** A key value as read back, in the form the batch carries it (canonical). */
function canonicalKey(value: Value, column: MyColumn): Value {
  return value !== null && column.decode ? column.decode(value) : value
}

/** Delete rows by key, in chunks; returns the rows deleted. */
export async function deleteRows(connection: PoolConnection, table: MyTable, keys: readonly string[], deletes: readonly KeyValues[]): Promise<number> {
  let deleted = 0
  for (let i = 0; i < deletes.length; i += KEYS_PER_STATEMENT) {
    const params: Param[] = []
    const condition = keysCondition(table, keys, deletes.slice(i, i + KEYS_PER_STATEMENT), params)
    const [result] = await connection.execute<ResultSetHeader>(`DELETE FROM ${table.sql} WHERE ${condition}`, params)
    deleted += result.affectedRows
  }
  return deleted
}
