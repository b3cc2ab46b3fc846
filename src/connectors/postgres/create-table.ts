/**
 * Creating a destination table from canonical fields (`create: true`).
 */
import { createHash } from 'node:crypto'
import { SynclineError } from '../../errors.js'
import type { FieldInfo } from '../../values/canonical.js'
import { quoteIdent, quoteTable } from './dialect.js'
import { entityCandidates, type Queryable } from './introspect.js'

/**
 * The PostgreSQL type for a canonical field, as close to the source's as
 * PostgreSQL has: integer → smallint / integer / bigint by `bits` (bigint
 * when unknown; an unsigned one gets the next wider type, numeric(20) for
 * 64 bits), decimal → numeric(p,s) when the precision is known, float →
 * real for 32 bits, else double precision, text → varchar(n) when bounded,
 * timestamp → timestamptz, localtimestamp → timestamp(6)
 * without time zone, json → jsonb (json when the source's is text
 * JSON), bytes → bytea; boolean, uuid, date and time keep their names.
 * @example nativeTypeFor({ name: 'price', type: 'decimal', precision: 12, scale: 2, nativeType: '', nullable: true }) // 'numeric(12,2)'
 */
export function nativeTypeFor(field: FieldInfo, enumType = 'text'): string {
  switch (field.type) {
    case 'integer':
      return integerType(field)
    case 'decimal': {
      const { precision, scale } = field
      if (precision === undefined || precision < 1 || precision > 1000) return 'numeric'
      return scale === undefined ? `numeric(${precision})` : `numeric(${precision},${Math.max(0, Math.min(scale, precision))})`
    }
    case 'float':
      return field.bits === 32 ? 'real' : 'double precision'
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
    case 'localtimestamp':
      return 'timestamp(6) without time zone'
    case 'date':
      return 'date'
    case 'time':
      return 'time'
    case 'json':
      return field.jsonText === true ? 'json' : 'jsonb'
    case 'enum':
      return field.enumValues ? enumType : 'text'
    case 'array':
      // text[], bigint[], mood[]…: the element's own type (nested JSON arrays fit too: PostgreSQL arrays have any number of dimensions).
      return `${nativeTypeFor({ ...field, type: field.elementType ?? 'text', maxLength: undefined }, enumType)}[]`
  }
}

/**
 * The enum type created for an enum field (and for an array of enum
 * elements): `<table>_<field>`, in the table's schema. PostgreSQL cuts
 * names at 63 bytes, which would make two fields share a type and hide it
 * from the lookup by name: a longer name is shortened here, with a hash of
 * the full one.
 */
export function enumTypeName(table: string, field: string): string {
  const name = `${table}_${field}`
  if (Buffer.byteLength(name, 'utf8') <= 63) return name
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 8)
  let prefix = ''
  for (const char of name) {
    if (Buffer.byteLength(prefix + char, 'utf8') > 54) break
    prefix += char
  }
  return `${prefix}_${hash}`
}

/**
 * Create the enum type of a field unless a type of that name exists; an
 * existing one must have the same labels in the same order, or the table
 * could not hold the source's values.
 */
async function createEnumType(db: Queryable, schema: string, name: string, labels: readonly string[]): Promise<void> {
  const { rows } = await db.query<{ labels: string | null }>(
    `SELECT (SELECT json_agg(e.enumlabel ORDER BY e.enumsortorder)::text FROM pg_enum e WHERE e.enumtypid = t.oid) AS labels
       FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = $1 AND t.typname = $2`,
    [schema, name],
  )
  if (rows.length === 0) {
    const list = labels.map((l) => `'${l.replace(/'/g, "''")}'`).join(', ')
    await ignoreAlreadyExists(db.query(`CREATE TYPE ${quoteTable(schema, name)} AS ENUM (${list})`))
    return
  }
  if (rows[0]!.labels !== JSON.stringify(labels)) {
    throw new SynclineError(
      'PLAN_INVALID',
      'config',
      `Cannot create the enum type ${quoteTable(schema, name)}: a type of that name already exists with other values than (${labels.join(', ')}). Drop or rename it, or create the table yourself.`,
    )
  }
}

/** The smallest PostgreSQL integer type holding every value of the field's width (all types are signed). */
function integerType(field: FieldInfo): string {
  const bits = field.bits ?? 64
  const needed = field.unsigned === true ? bits + 1 : bits
  if (needed <= 16) return 'smallint'
  if (needed <= 32) return 'integer'
  if (needed <= 64) return 'bigint'
  return 'numeric(20)'
}

/**
 * A serial or identity source column becomes an identity column, so the
 * application can insert without an id; BY DEFAULT, because syncline writes
 * the source's ids (and moves the sequence past them, sequences.ts).
 */
function identity(field: FieldInfo): string {
  const type = nativeTypeFor(field)
  return field.autoIncrement === true && (type === 'smallint' || type === 'integer' || type === 'bigint') ? ' GENERATED BY DEFAULT AS IDENTITY' : ''
}

/** `CREATE TABLE IF NOT EXISTS` for the fields, NOT NULL where not nullable, PRIMARY KEY (keys). */
export function createTableSql(schema: string, table: string, fields: readonly FieldInfo[], keys: readonly string[]): string {
  const columns = fields.map((f) => `${quoteIdent(f.name)} ${nativeTypeFor(f, quoteTable(schema, enumTypeName(table, f.name)))}${identity(f)}${f.nullable && !keys.includes(f.name) ? '' : ' NOT NULL'}`)
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
  for (const field of fields) {
    const enumValues = field.type === 'enum' || (field.type === 'array' && field.elementType === 'enum') ? field.enumValues : undefined
    if (enumValues) await createEnumType(db, schema, enumTypeName(table, field.name), enumValues)
  }
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
