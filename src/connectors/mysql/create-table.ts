/**
 * Creating a destination table from canonical fields (`create: true`).
 *
 * The table is InnoDB in utf8mb4 with a binary NO PAD collation
 * (`utf8mb4_nopad_bin` on MariaDB, `utf8mb4_0900_bin` on MySQL 8): text keys
 * then compare and order by UTF-8 bytes like the other side of a sync, and
 * `'a'`, `'A'` and `'a '` stay three keys. (`utf8mb4_bin` orders by bytes
 * too but pads with spaces, so `'a'` and `'a '` would be one key.)
 */
import type { Pool, RowDataPacket } from 'mysql2/promise'
import { SynclineError } from '../../errors.js'
import type { FieldInfo } from '../../values/canonical.js'
import { quoteIdent, quoteTable } from './dialect.js'
import { entityCandidates } from './introspect.js'
import type { ServerInfo } from './server.js'

/** VARCHAR(n) is kept up to this many characters (65,535 bytes / 4 bytes per utf8mb4 character); longer text is LONGTEXT. */
export const MAX_VARCHAR = 16_383

/** InnoDB's limit on the bytes of one index (DYNAMIC rows), shared by the key columns. */
const INDEX_BYTES = 3_072

/** MySQL's limit on the declared bytes of one row, LONGTEXT/LONGBLOB counting only their pointer. */
const ROW_BYTES = 65_535 - 1_000

/** DECIMAL's largest precision and scale. */
const DECIMAL_MAX = { precision: 65, scale: 30 }

/** The integer type of each width. */
const INTEGER_TYPES = { 8: 'TINYINT', 16: 'SMALLINT', 32: 'INT', 64: 'BIGINT' } as const

/** Bytes a fixed-size type takes in a row or an index. */
function fixedBytes(field: FieldInfo, server: ServerInfo): number {
  switch (field.type) {
    case 'boolean':
      return 1
    case 'date':
      return 3
    case 'time':
      return 6
    case 'uuid':
      return server.uuidType ? 16 : 36 * 4 + 1
    case 'decimal':
      return 30
    default:
      return 8
  }
}

/**
 * The MySQL type for a canonical field (keys and bounded text are sized by
 * {@link createTableSql}): integer → TINYINT / SMALLINT / INT / BIGINT by
 * `bits` (BIGINT when unknown), UNSIGNED when the source's is, decimal →
 * DECIMAL(p,s) (65,30 at most, and when the precision is unknown), float →
 * FLOAT for 32 bits, else DOUBLE, text →
 * VARCHAR(n) or LONGTEXT, bytes → LONGBLOB, timestamp → DATETIME(6) (UTC,
 * marked by a column comment), localtimestamp → DATETIME(6),
 * date → DATE, time → TIME(6), json → JSON, uuid → UUID (MariaDB 10.7+) or
 * CHAR(36), boolean → TINYINT(1).
 * @example nativeTypeFor({ name: 'price', type: 'decimal', precision: 12, scale: 2, nativeType: '', nullable: true }, server) // 'DECIMAL(12,2)'
 */
export function nativeTypeFor(field: FieldInfo, server: ServerInfo): string {
  switch (field.type) {
    case 'integer':
      return INTEGER_TYPES[field.bits ?? 64] + (field.unsigned === true ? ' UNSIGNED' : '')
    case 'decimal': {
      const { precision, scale } = field
      if (precision === undefined || precision < 1) return `DECIMAL(${DECIMAL_MAX.precision},${DECIMAL_MAX.scale})`
      const s = Math.max(0, Math.min(scale ?? 0, DECIMAL_MAX.scale, precision))
      return `DECIMAL(${Math.min(precision, DECIMAL_MAX.precision)},${s})`
    }
    case 'float':
      return field.bits === 32 ? 'FLOAT' : 'DOUBLE'
    case 'text':
      return field.maxLength !== undefined && field.maxLength >= 1 && field.maxLength <= MAX_VARCHAR ? `VARCHAR(${field.maxLength})` : 'LONGTEXT'
    case 'boolean':
      return 'TINYINT(1)'
    case 'uuid':
      return server.uuidType ? 'UUID' : 'CHAR(36)'
    case 'bytes':
      return 'LONGBLOB'
    case 'timestamp':
    case 'localtimestamp':
      return 'DATETIME(6)'
    case 'date':
      return 'DATE'
    case 'time':
      return 'TIME(6)'
    case 'json':
      return 'JSON'
    case 'enum':
      return field.enumValues && field.enumValues.length > 0 ? `ENUM(${memberList(field.enumValues)})` : 'LONGTEXT'
    case 'array':
      // A SET holds up to 64 members without commas, each at most once: an array of such enum elements; any other array is JSON.
      return field.elementType === 'enum' && field.enumValues && field.enumValues.length >= 1 && field.enumValues.length <= 64 && !field.enumValues.some((v) => v.includes(','))
        ? `SET(${memberList(field.enumValues)})`
        : 'JSON'
  }
}

/** ENUM / SET members as SQL string literals (sessions run without NO_BACKSLASH_ESCAPES). */
function memberList(values: readonly string[]): string {
  return values.map((v) => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`).join(',')
}

/**
 * Column types for a new table. Key columns must fit one index (3,072
 * bytes): text and bytes keys share what the other key columns leave,
 * unbounded ones included (a longer value is then a rejected record, never
 * a cut one). Bounded text stays VARCHAR(n) while the row's declared size
 * allows (65,535 bytes), and becomes LONGTEXT after that.
 */
export function columnTypes(fields: readonly FieldInfo[], keys: readonly string[], server: ServerInfo): Map<string, string> {
  const types = new Map<string, string>()
  const keyFields = keys.map((k) => fields.find((f) => f.name === k)!)
  const sized = keyFields.filter((f) => f.type === 'text' || f.type === 'bytes' || f.type === 'json')
  let indexLeft = INDEX_BYTES - keyFields.filter((f) => !sized.includes(f)).reduce((sum, f) => sum + fixedBytes(f, server), 0)
  let rowLeft = ROW_BYTES
  sized.forEach((field, i) => {
    const share = Math.floor(indexLeft / (sized.length - i))
    const perChar = field.type === 'bytes' ? 1 : 4
    const length = Math.max(1, Math.min(field.maxLength ?? Number.MAX_SAFE_INTEGER, Math.floor((share - 2) / perChar)))
    types.set(field.name, `${field.type === 'bytes' ? 'VARBINARY' : 'VARCHAR'}(${length})`)
    indexLeft -= length * perChar + 2
    rowLeft -= length * perChar + 2
  })
  for (const field of fields) if (!types.has(field.name) && field.type !== 'text') {
    types.set(field.name, nativeTypeFor(field, server))
    rowLeft -= field.type === 'bytes' || field.type === 'json' ? 12 : fixedBytes(field, server)
  }
  for (const field of fields) {
    if (types.has(field.name)) continue
    const native = nativeTypeFor(field, server)
    const bytes = field.maxLength !== undefined ? field.maxLength * 4 + 2 : Infinity
    if (native.startsWith('VARCHAR') && bytes <= rowLeft) {
      types.set(field.name, native)
      rowLeft -= bytes
    } else {
      types.set(field.name, 'LONGTEXT')
      rowLeft -= 12
    }
  }
  return types
}

/**
 * Zoned timestamps are created as DATETIME(6) holding UTC (TIMESTAMP ends in
 * 2038); the comment tells introspection (`UTC_COMMENT`) to read the column
 * as a zoned timestamp, not as a local one like any other DATETIME.
 */
const UTC_TIMESTAMP_COMMENT = " COMMENT 'syncline: UTC timestamp'"

/**
 * `CREATE TABLE IF NOT EXISTS` for the fields, NOT NULL where not nullable
 * (and on keys), PRIMARY KEY (keys), InnoDB, utf8mb4 with a binary NO PAD collation.
 */
export function createTableSql(database: string, table: string, fields: readonly FieldInfo[], keys: readonly string[], server: ServerInfo): string {
  const types = columnTypes(fields, keys, server)
  // MySQL takes one AUTO_INCREMENT column, first in an index: the first key column, when the source's is one.
  const auto = fields.find((f) => f.name === keys[0] && f.type === 'integer' && f.autoIncrement === true)
  const columns = fields.map(
    (f) => `${quoteIdent(f.name)} ${types.get(f.name)}${f.nullable && !keys.includes(f.name) ? ' NULL' : ' NOT NULL'}${f === auto ? ' AUTO_INCREMENT' : ''}${f.type === 'timestamp' ? UTC_TIMESTAMP_COMMENT : ''}`,
  )
  if (keys.length > 0) columns.push(`PRIMARY KEY (${keys.map(quoteIdent).join(', ')})`)
  const collation = server.binaryCollation ?? 'utf8mb4_bin'
  return `CREATE TABLE IF NOT EXISTS ${quoteTable(database, table)} (\n  ${columns.join(',\n  ')}\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=${collation}`
}

/**
 * `ALTER TABLE … ADD COLUMN` for each field, NULL, typed as a new table's
 * non-key column would be (unbounded text LONGTEXT, so the row size holds).
 * The caller leaves out fields already there (MySQL has no ADD COLUMN IF NOT EXISTS).
 */
export function addColumnsSql(database: string, table: string, fields: readonly FieldInfo[], server: ServerInfo): string {
  return `ALTER TABLE ${quoteTable(database, table)} ${fields.map((f) => `ADD COLUMN ${quoteIdent(f.name)} ${nativeTypeFor(f, server)} NULL`).join(', ')}`
}

/**
 * Create the database (when missing) and the table (when missing). An
 * existing table is left as it is; creating the same table from two
 * processes at once is fine (IF NOT EXISTS).
 */
export async function createTable(pool: Pool, server: ServerInfo, entity: string, defaultDatabase: string, fields: readonly FieldInfo[], keys: readonly string[]): Promise<void> {
  const names = new Set(fields.map((f) => f.name))
  const missing = keys.filter((k) => !names.has(k))
  if (missing.length > 0) {
    throw new SynclineError('KEY_MISSING', 'config', `Cannot create '${entity}': key field(s) ${missing.join(', ')} are not among its fields. Map the key fields to the destination.`)
  }
  if (fields.length === 0) throw new SynclineError('PLAN_INVALID', 'config', `Cannot create '${entity}' without fields: map at least one field.`)
  const target = entityCandidates(entity, defaultDatabase)[0]
  if (!target) {
    throw new SynclineError('PLAN_INVALID', 'config', `Cannot create '${entity}': the connection URL names no database, so name the entity database.table.`)
  }
  const [database, table] = target
  // CREATE DATABASE IF NOT EXISTS still needs the CREATE privilege on it: check first.
  const [rows] = await pool.query<RowDataPacket[]>('SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [database])
  if (rows.length === 0) await pool.query(`CREATE DATABASE IF NOT EXISTS ${quoteIdent(database)} CHARACTER SET utf8mb4 COLLATE ${server.binaryCollation ?? 'utf8mb4_bin'}`)
  await pool.query(createTableSql(database, table, fields, keys, server))
}
