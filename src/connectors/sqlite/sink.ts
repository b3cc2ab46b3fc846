/**
 * Writing to SQLite: creating tables, and applying a batch of upserts and
 * deletes in one transaction with prepared statements.
 *
 * Upserts only write rows that differ (`ON CONFLICT … DO UPDATE … WHERE a
 * column IS NOT what is stored`), so applying a batch twice changes nothing
 * the second time. A rejected record rolls the whole batch back and is
 * reported as a RecordError naming the entity, the field and the key; the
 * engine isolates it by splitting the batch.
 */
import type Database from 'better-sqlite3'
import { RecordError, SynclineError, throwIfAborted } from '../../errors.js'
import type { EntityInfo, FieldInfo, KeyValues, Value } from '../../values/canonical.js'
import type { ApplyBatch, ApplyOptions, ApplyResult } from '../connector.js'
import { characterCount, decimalProblem, textLengthProblem } from '../../mapping/field-constraints.js'
import { keyMissing } from '../sql/key-rows.js'
import { declaredTypeFor, encodeValue, type SqliteValue } from './codec.js'
import { quoteIdent } from './dialect.js'
import { withChecks } from './foreign-keys.js'
import { requireFields } from './source.js'

/** The table name an entity name creates (`main.x` is `x`). */
export function tableNameOf(entity: string): string {
  return entity.replace(/^main\./i, '')
}

/**
 * `CREATE TABLE IF NOT EXISTS` with the declared types of
 * {@link declaredTypeFor}, NOT NULL where a field is not nullable (and on
 * every key field: SQLite would otherwise allow NULL in a primary key).
 */
export function createTable(db: Database.Database, entity: string, fields: readonly FieldInfo[], keys: readonly string[]): void {
  if (fields.length === 0) throw new SynclineError('PLAN_INVALID', 'config', `Cannot create SQLite table '${entity}' without fields; map at least one field to it.`)
  for (const key of keys) {
    if (!fields.some((f) => f.name === key)) {
      throw new SynclineError('KEY_MISSING', 'config', `Cannot create SQLite table '${entity}': key field '${key}' is not among its fields. Map a field named '${key}'.`)
    }
  }
  // SQLite refuses these itself ("object name reserved for internal use"),
  // which would surface as an internal error without the fix.
  if (/^sqlite_/i.test(tableNameOf(entity))) {
    throw new SynclineError('PLAN_INVALID', 'config', `Cannot create SQLite table '${entity}': SQLite reserves names starting with 'sqlite_' for itself. Name the destination entity differently.`)
  }
  const columns = fields.map((f) => `${quoteIdent(f.name)} ${declaredTypeFor(f)}${!f.nullable || keys.includes(f.name) ? ' NOT NULL' : ''}`)
  if (keys.length > 0) columns.push(`PRIMARY KEY (${keys.map(quoteIdent).join(', ')})`)
  db.exec(`CREATE TABLE IF NOT EXISTS ${quoteIdent(tableNameOf(entity))} (\n  ${columns.join(',\n  ')}\n)`)
}

/** `ALTER TABLE … ADD COLUMN` (one statement per field: SQLite adds one at a time) for each field not there yet, nullable, declared as {@link createTable} would. */
export function addColumns(db: Database.Database, table: string, fields: readonly FieldInfo[]): void {
  const existing = new Set((db.prepare(`SELECT name FROM pragma_table_info(?)`).all(table) as { name: string }[]).map((c) => c.name))
  const add = db.transaction(() => {
    for (const f of fields) if (!existing.has(f.name)) db.exec(`ALTER TABLE ${quoteIdent(table)} ADD COLUMN ${quoteIdent(f.name)} ${declaredTypeFor(f)}`)
  })
  add()
}

/** JSON of a record's key, bigints and bytes made printable. */
function keyText(keys: readonly string[], key: KeyValues): string {
  const shown: Record<string, unknown> = {}
  keys.forEach((k, i) => {
    const v = key[i] ?? null
    shown[k] = typeof v === 'bigint' ? v.toString() : v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v
  })
  return JSON.stringify(shown)
}

function reject(entity: string, keys: readonly string[], key: KeyValues, field: string | undefined, problem: string, fix: string, cause?: unknown): RecordError {
  return new RecordError(
    'VALUE_REJECTED',
    'data',
    `SQLite table '${entity}' rejected ${keys.length > 0 ? `the record ${keyText(keys, key)}` : 'the batch'}: ${problem}. ${fix}`,
    { cause, details: { entity, field, key: JSON.parse(keyText(keys, key)) as unknown } },
  )
}

/**
 * Encode one value, checking what SQLite would silently accept: text longer
 * than VARCHAR(n), a decimal with more digits than DECIMAL_TEXT(p,s) declares
 * (the same checks and words as every other connector, mapping/field-constraints.ts).
 */
function encodeField(entity: string, field: FieldInfo, value: Value, keys: readonly string[], key: KeyValues): SqliteValue {
  let encoded: SqliteValue
  try {
    encoded = encodeValue(value, field.type)
  } catch (error) {
    throw reject(entity, keys, key, field.name, `field '${field.name}' (${field.type}): ${(error as Error).message}`, 'Fix the value at the source or map a transform that converts it.', error)
  }
  if (field.maxLength !== undefined && typeof encoded === 'string') {
    const length = characterCount(encoded, field.maxLength)
    if (length > field.maxLength) {
      throw reject(
        entity,
        keys,
        key,
        field.name,
        `${field.name}: ${textLengthProblem(length, field.nativeType, field.maxLength)}`,
        `Shorten the value with a transform, or widen the column to hold ${length} characters.`,
      )
    }
  }
  if (field.type === 'decimal' && (field.precision !== undefined || field.scale !== undefined) && value !== null) {
    const problem = decimalProblem(field, value)
    if (problem) throw reject(entity, keys, key, field.name, `${field.name}: ${problem}`, 'Widen the column, or round the value with a transform.')
  }
  return encoded
}

/** A constraint failure reported by SQLite, as a RecordError; undefined for other errors. */
function constraintFailure(error: unknown, entity: string, keys: readonly string[], key: KeyValues): RecordError | undefined {
  const code = String((error as { code?: unknown }).code ?? '')
  if (!code.startsWith('SQLITE_CONSTRAINT') && code !== 'SQLITE_MISMATCH' && code !== 'SQLITE_TOOBIG') return undefined
  const message = (error as Error).message
  // 'NOT NULL constraint failed: t.col', 'UNIQUE constraint failed: t.a, t.b', 'CHECK constraint failed: positive'
  const subject = message.replace(/^.*constraint failed:?\s*/s, '')
  const fields = subject.split(', ').map((f) => (f.startsWith(`${entity}.`) ? f.slice(entity.length + 1) : f))
  const field = fields.length === 1 ? fields[0] : undefined
  if (code === 'SQLITE_CONSTRAINT_NOTNULL') {
    return reject(entity, keys, key, field, `field '${field}' may not be NULL`, `Map a value to '${field}' (a source field or a transform), or make the column nullable.`, error)
  }
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
    const list = fields.map((f) => `'${f}'`).join(', ')
    return reject(entity, keys, key, field, `another row already has the same ${list} (unique)`, 'Make the values unique at the source, or sync on that unique key.', error)
  }
  if (code === 'SQLITE_CONSTRAINT_CHECK') {
    return reject(entity, keys, key, undefined, `it fails the CHECK constraint ${subject}`, 'Fix the value at the source, or change the constraint.', error)
  }
  if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY') {
    return reject(entity, keys, key, undefined, 'a row it references does not exist (foreign key)', 'Sync the referenced entity first, or include the referenced rows.', error)
  }
  return reject(entity, keys, key, field, message, 'Fix the value at the source or map a transform that converts it.', error)
}

/** Whether a unique index (or the primary key) covers exactly these fields, so ON CONFLICT can target it. */
function hasUniqueKey(entity: EntityInfo, keys: readonly string[]): boolean {
  const wanted = [...keys].sort().join('\u0000')
  return [entity.primaryKey, ...entity.uniqueKeys].some((k) => k.length > 0 && [...k].sort().join('\u0000') === wanted)
}

interface PreparedRow {
  key: KeyValues
  params: SqliteValue[]
}

interface RowGroup {
  fields: FieldInfo[]
  rows: PreparedRow[]
}

/** The statements that write one column set: a native upsert, or update-then-insert. */
interface WriteStatements {
  upsert?: Database.Statement
  update?: Database.Statement
  insert?: Database.Statement
}

function writeStatements(db: Database.Database, entity: EntityInfo, fields: readonly FieldInfo[], keys: readonly string[], native: boolean): WriteStatements {
  const table = quoteIdent(entity.name)
  const names = fields.map((f) => quoteIdent(f.name))
  const others = fields.filter((f) => !keys.includes(f.name)).map((f) => quoteIdent(f.name))
  const keyColumns = keys.map(quoteIdent)
  const placeholders = names.map(() => '?').join(', ')
  if (native) {
    const action =
      others.length === 0
        ? 'DO NOTHING'
        : `DO UPDATE SET ${others.map((c) => `${c} = excluded.${c}`).join(', ')} WHERE ${others.map((c) => `${table}.${c} IS NOT excluded.${c}`).join(' OR ')}`
    return { upsert: db.prepare(`INSERT INTO ${table} (${names.join(', ')}) VALUES (${placeholders}) ON CONFLICT (${keyColumns.join(', ')}) ${action}`) }
  }
  // No unique index on the keys: update a row that exists and differs, else insert it.
  const keyMatch = keyColumns.map((c) => `${c} = ?`).join(' AND ')
  return {
    update:
      others.length === 0
        ? undefined
        : db.prepare(`UPDATE ${table} SET ${others.map((c) => `${c} = ?`).join(', ')} WHERE ${keyMatch} AND (${others.map((c) => `${c} IS NOT ?`).join(' OR ')})`),
    insert: db.prepare(`INSERT INTO ${table} (${names.join(', ')}) SELECT ${placeholders} WHERE NOT EXISTS (SELECT 1 FROM ${table} WHERE ${keyMatch})`),
  }
}

/**
 * Apply upserts and deletes in one (immediate) transaction: deletes first,
 * then upserts. Values are encoded and checked before the transaction
 * starts; any failure rolls the whole batch back and leaves the connection usable.
 * @returns rows actually inserted or changed, and rows actually deleted.
 */
export function applyBatch(db: Database.Database, entity: EntityInfo, batch: ApplyBatch, opts: ApplyOptions): ApplyResult {
  throwIfAborted(opts.signal)
  const keys = opts.keys
  if (keys.length === 0) throw new SynclineError('KEY_MISSING', 'config', `Writing to SQLite table '${entity.name}' needs key fields; give keys in the plan.`)
  const keyFields = requireFields(entity, keys)

  const deletes = batch.deletes.map((key) => keyFields.map((f, i) => encodeField(entity.name, f, key[i] ?? null, keys, key)))
  const groups = new Map<string, RowGroup>()
  for (const row of batch.upserts) {
    const key = keys.map((k) => row[k] ?? null)
    const names = Object.keys(row).filter((n) => row[n] !== undefined)
    // A NULL key would match no row, and in an INTEGER PRIMARY KEY it would even make SQLite invent one.
    const missing = keys.find((k) => row[k] === undefined || row[k] === null)
    if (missing !== undefined) throw keyMissing(entity.name, missing)
    const signature = names.join('\u0000')
    let group = groups.get(signature)
    if (!group) {
      group = { fields: requireFields(entity, names), rows: [] }
      groups.set(signature, group)
    }
    group.rows.push({ key, params: group.fields.map((f) => encodeField(entity.name, f, row[f.name] as Value, keys, key)) })
  }

  const native = hasUniqueKey(entity, keys)
  const run = db.transaction((): ApplyResult => {
    let deleted = 0
    let upserted = 0
    if (deletes.length > 0) {
      const remove = db.prepare(`DELETE FROM ${quoteIdent(entity.name)} WHERE ${keys.map((k) => `${quoteIdent(k)} = ?`).join(' AND ')}`)
      batch.deletes.forEach((key, i) => {
        deleted += guarded(entity.name, keys, key, () => remove.run(deletes[i]!).changes)
      })
    }
    for (const group of groups.values()) {
      const statements = writeStatements(db, entity, group.fields, keys, native)
      const keyIndexes = keys.map((k) => group.fields.findIndex((f) => f.name === k))
      const otherIndexes = group.fields.map((_, i) => i).filter((i) => !keyIndexes.includes(i))
      for (const { key, params } of group.rows) {
        upserted += guarded(entity.name, keys, key, () => {
          if (statements.upsert) return statements.upsert.run(params).changes
          const keyParams = keyIndexes.map((i) => params[i]!)
          const others = otherIndexes.map((i) => params[i]!)
          if (statements.update) {
            const changed = statements.update.run([...others, ...keyParams, ...others]).changes
            if (changed > 0) return changed
          }
          return statements.insert!.run([...params, ...keyParams]).changes
        })
      }
    }
    return { upserted, deleted }
  })
  try {
    return withChecks(db, opts.foreignKeyChecks, () => run.immediate())
  } catch (error) {
    // A deferred foreign key fails at COMMIT, where no single record is to blame.
    throw constraintFailure(error, entity.name, [], []) ?? error
  }
}

/** Run one record's statement, turning a constraint failure into a RecordError for that record. */
function guarded(entity: string, keys: readonly string[], key: KeyValues, write: () => number): number {
  try {
    return write()
  } catch (error) {
    throw constraintFailure(error, entity, keys, key) ?? error
  }
}
