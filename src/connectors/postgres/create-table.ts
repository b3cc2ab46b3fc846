/**
 * Creating a destination table from canonical fields (`create: true`).
 */
import { SynclineError } from '../../errors.js'
import type { FieldInfo } from '../../values/canonical.js'
import { quoteIdent, quoteTable } from './dialect.js'
import { entityCandidates, type Queryable } from './introspect.js'

/**
 * The PostgreSQL type for a canonical field: integer → bigint, decimal →
 * numeric(p,s) when the precision is known, float → double precision, text →
 * varchar(n) when bounded, timestamp → timestamptz, json → jsonb, bytes →
 * bytea; boolean, uuid, date and time keep their names.
 * @example nativeTypeFor({ name: 'price', type: 'decimal', precision: 12, scale: 2, nativeType: '', nullable: true }) // 'numeric(12,2)'
 */
export function nativeTypeFor(field: FieldInfo): string {
  switch (field.type) {
    case 'integer':
      return 'bigint'
    case 'decimal': {
      const { precision, scale } = field
      if (precision === undefined || precision < 1 || precision > 1000) return 'numeric'
      return scale === undefined ? `numeric(${precision})` : `numeric(${precision},${Math.max(0, Math.min(scale, precision))})`
    }
    case 'float':
      return 'double precision'
    case 'text':
      return field.maxLength !== undefined && field.maxLength >= 1 && field.maxLength <= 10_485_760 ? `varchar(${field.maxLength})` : 'text'
    case 'boolean':
      return 'boolean'
    case 'uuid':
      return 'uuid'
    case 'bytes':
      return 'bytea'
    case 'timestamp':
      return 'timestamptz'
    case 'date':
      return 'date'
    case 'time':
      return 'time'
    case 'json':
      return 'jsonb'
  }
}

/** `CREATE TABLE IF NOT EXISTS` for the fields, NOT NULL where not nullable, PRIMARY KEY (keys). */
export function createTableSql(schema: string, table: string, fields: readonly FieldInfo[], keys: readonly string[]): string {
  const columns = fields.map((f) => `${quoteIdent(f.name)} ${nativeTypeFor(f)}${f.nullable && !keys.includes(f.name) ? '' : ' NOT NULL'}`)
  if (keys.length > 0) columns.push(`PRIMARY KEY (${keys.map(quoteIdent).join(', ')})`)
  return `CREATE TABLE IF NOT EXISTS ${quoteTable(schema, table)} (\n  ${columns.join(',\n  ')}\n)`
}

/** `ALTER TABLE … ADD COLUMN IF NOT EXISTS` for each field, nullable, typed as {@link createTableSql} would type it. */
export function addColumnsSql(schema: string, table: string, fields: readonly FieldInfo[]): string {
  return `ALTER TABLE ${quoteTable(schema, table)} ${fields.map((f) => `ADD COLUMN IF NOT EXISTS ${quoteIdent(f.name)} ${nativeTypeFor(f)}`).join(', ')}`
}

/**
 * Create the schema (when missing) and the table (when missing). An existing
 * table is left as it is. Creating the same table from two processes at once
 * is fine: the loser's "already exists" is ignored.
 */
export async function createTable(db: Queryable, entity: string, fields: readonly FieldInfo[], keys: readonly string[]): Promise<void> {
  const names = new Set(fields.map((f) => f.name))
  const missing = keys.filter((k) => !names.has(k))
  if (missing.length > 0) {
    throw new SynclineError('KEY_MISSING', 'config', `Cannot create '${entity}': key field(s) ${missing.join(', ')} are not among its fields. Map the key fields to the destination.`)
  }
  if (fields.length === 0) throw new SynclineError('PLAN_INVALID', 'config', `Cannot create '${entity}' without fields: map at least one field.`)
  const [schema, table] = entityCandidates(entity)[0]!
  // CREATE SCHEMA IF NOT EXISTS still needs the CREATE privilege on the
  // database, which users writing into `public` often lack: check first.
  const { rows } = await db.query<{ exists: boolean }>('SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS exists', [schema])
  if (!rows[0]?.exists) await ignoreAlreadyExists(db.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`))
  await ignoreAlreadyExists(db.query(createTableSql(schema, table, fields, keys)))
}

/** Concurrent IF NOT EXISTS can still collide in the catalog (23505, 42P06, 42P07): the object exists, which is the goal. */
async function ignoreAlreadyExists(query: Promise<unknown>): Promise<void> {
  try {
    await query
  } catch (error) {
    const code = (error as { code?: string }).code
    if (code !== '23505' && code !== '42P06' && code !== '42P07') throw error
  }
}
