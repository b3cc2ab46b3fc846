/**
 * The capture triggers of one SQLite table: AFTER INSERT, UPDATE and DELETE
 * triggers that copy the new and old row into the change log
 * (`change-log.ts`), and the decoding of what they wrote.
 *
 * SQLite is dynamically typed: a cell of any column may hold any storage
 * class, and a JSON number would round a 64-bit integer or a double. So each
 * value is written as text tagged with its `typeof`: `i` + the integer's
 * digits (exact to 64 bits), `r` + `printf('%!.17g')` (17 significant digits
 * round-trip every finite double; checked over 200,000 random doubles on
 * SQLite 3.53), `t` + the text, `b` + the blob's hex; NULL is JSON null.
 * Decoding gives back the value better-sqlite3 would have read, and the
 * connector's codec turns it into the canonical value exactly as `scan` does.
 *
 * The triggers use only built-in SQL functions: they run in every process
 * that writes the file (the sqlite3 shell, another application), none of
 * which has syncline's own functions registered.
 */
import type Database from 'better-sqlite3'
import type { EntityInfo } from '../../values/canonical.js'
import type { SqliteValue } from './codec.js'
import { quoteIdent, sqlString } from './dialect.js'
import { CHANGES_TABLE } from './change-log.js'

/** The trigger operations, as the change log's `op` column spells them. */
export const OPERATIONS = ['insert', 'update', 'delete'] as const

/** One of {@link OPERATIONS}. */
export type Operation = (typeof OPERATIONS)[number]

/**
 * Bumped when the SQL the triggers run changes, so triggers installed by an
 * older syncline are regenerated.
 */
const TRIGGER_FORMAT = 1

/** Columns per `json_object` call: SQLite limits a function's arguments (127 in older builds). */
const COLUMNS_PER_OBJECT = 50

/**
 * The name of a table's capture trigger for one operation.
 * @example triggerName('orders', 'insert') // '_syncline_orders_insert'
 */
export function triggerName(table: string, op: Operation): string {
  return `_syncline_${table}_${op}`
}

/**
 * What the installed triggers of a table encode (the trigger format and the
 * column names, in order): when the table's columns change (ALTER TABLE ADD
 * COLUMN), this changes and the triggers are written anew.
 */
export function triggerSignature(entity: EntityInfo): string {
  return JSON.stringify([TRIGGER_FORMAT, ...entity.fields.map((f) => f.name)])
}

/** The SQL of one column's tagged value, read from `NEW` or `OLD`. */
function taggedValue(row: 'NEW' | 'OLD', column: string): string {
  const cell = `${row}.${quoteIdent(column)}`
  return (
    `CASE typeof(${cell}) WHEN 'integer' THEN 'i' || ${cell} WHEN 'real' THEN 'r' || printf('%!.17g', ${cell}) ` +
    `WHEN 'text' THEN 't' || ${cell} WHEN 'blob' THEN 'b' || hex(${cell}) END`
  )
}

/** The SQL of a whole row as a JSON object of tagged values, keyed by column name. */
function rowJson(row: 'NEW' | 'OLD', columns: readonly string[]): string {
  const objects: string[] = []
  for (let i = 0; i < columns.length; i += COLUMNS_PER_OBJECT) {
    const pairs = columns.slice(i, i + COLUMNS_PER_OBJECT).map((c) => `${sqlString(c)}, ${taggedValue(row, c)}`)
    objects.push(`json_object(${pairs.join(', ')})`)
  }
  if (objects.length === 0) return `json_object()`
  // json_patch merges the parts; a NULL in a later part drops its key, which decodes as NULL all the same.
  return objects.reduce((merged, next) => `json_patch(${merged}, ${next})`)
}

/** The CREATE TRIGGER statements of a table, one per operation. */
export function triggerStatements(entity: EntityInfo): string[] {
  const table = entity.name
  const columns = entity.fields.map((f) => f.name)
  const into = `INSERT INTO ${CHANGES_TABLE} (entity, op, new_row, old_row) VALUES (${sqlString(table)}`
  const body: Record<Operation, string> = {
    insert: `${into}, 'insert', ${rowJson('NEW', columns)}, NULL)`,
    update: `${into}, 'update', ${rowJson('NEW', columns)}, ${rowJson('OLD', columns)})`,
    delete: `${into}, 'delete', NULL, ${rowJson('OLD', columns)})`,
  }
  return OPERATIONS.map((op) => `CREATE TRIGGER ${quoteIdent(triggerName(table, op))} AFTER ${op.toUpperCase()} ON ${quoteIdent(table)} BEGIN ${body[op]}; END`)
}

/** Drop a table's capture triggers (those that exist). */
export function dropTriggers(db: Database.Database, table: string): void {
  for (const op of OPERATIONS) db.exec(`DROP TRIGGER IF EXISTS ${quoteIdent(triggerName(table, op))}`)
}

/** Whether all three capture triggers of a table exist. */
export function triggersInstalled(db: Database.Database, table: string): boolean {
  const names = OPERATIONS.map((op) => triggerName(table, op))
  const found = db.prepare(`SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND name IN (?, ?, ?)`).pluck().get(...names) as bigint
  return Number(found) === names.length
}

/** (Re)create a table's capture triggers. Run inside the caller's write transaction. */
export function installTriggers(db: Database.Database, entity: EntityInfo): void {
  dropTriggers(db, entity.name)
  for (const statement of triggerStatements(entity)) db.exec(statement)
}

/**
 * One tagged value back as better-sqlite3 reads it (safe integers: every
 * INTEGER a bigint).
 * @example untag('i9223372036854775807') // 9223372036854775807n
 */
export function untag(tagged: unknown): SqliteValue {
  if (tagged === null || tagged === undefined) return null
  if (typeof tagged !== 'string' || tagged.length === 0) throw new Error(`the change log holds ${JSON.stringify(tagged)}, which no capture trigger writes`)
  const body = tagged.slice(1)
  switch (tagged[0]) {
    case 'i':
      return BigInt(body)
    case 'r':
      // SQLite prints infinities as Inf and -Inf; NaN it stores as NULL.
      return body === 'Inf' ? Infinity : body === '-Inf' ? -Infinity : Number(body)
    case 't':
      return body
    case 'b':
      return Buffer.from(body, 'hex')
    default:
      throw new Error(`the change log holds ${JSON.stringify(tagged.slice(0, 20))}, which no capture trigger writes`)
  }
}

/**
 * The cells of a logged row (JSON of tagged values) in `entity.fields`
 * order. A column the row lacks (added after the change was logged) is NULL.
 */
export function loggedCells(json: string, entity: EntityInfo): SqliteValue[] {
  const logged = JSON.parse(json) as Record<string, unknown>
  return entity.fields.map((f) => untag(logged[f.name]))
}
