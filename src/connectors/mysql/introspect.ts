/**
 * Reading MySQL's catalog (information_schema): entities (tables, views),
 * their fields with canonical types, primary, unique and foreign keys.
 *
 * Entity names are `table` (in the URL's database) or `database.table`;
 * `` `db`.`t` `` with backticks is accepted too. Names are matched exactly
 * (table names are case-sensitive on Linux servers).
 */
import type { Pool, PoolConnection, RowDataPacket } from 'mysql2/promise'
import { NotFoundError, didYouMean } from '../../errors.js'
import type { CanonicalType, EntityInfo, FieldInfo, ForeignKeyInfo } from '../../values/canonical.js'
import type { SqlDialect } from '../sql/sql-builder.js'
import { enumMembers } from './binlog-values.js'
import { decoderFor, type Decoder } from './codec.js'
import { mysqlDialect, quoteIdent, quoteTable } from './dialect.js'
import { isExactCollation, type ServerInfo } from './server.js'

/** Something that runs a query: the pool or a held connection. */
export type Queryable = Pick<Pool, 'query' | 'execute'> | Pick<PoolConnection, 'query' | 'execute'>

/** A column with what reads and writes need beyond its {@link FieldInfo}. */
export interface MyColumn {
  field: FieldInfo
  /** `information_schema.COLUMNS.DATA_TYPE`, lower case: `varchar`, `bigint`, `json`, `uuid`. */
  dataType: string
  unsigned: boolean
  /** Character set and collation of a string column. */
  charset: string | null
  collation: string | null
  /** Byte limit of TEXT, BLOB, BINARY and VARBINARY columns. */
  maxBytes?: number
  /** Fraction digits kept by DATETIME, TIMESTAMP and TIME columns. */
  fractionDigits?: number
  /** Generated columns cannot be written. */
  generated: boolean
  autoIncrement: boolean
  /** The SELECT expression: the column, or an expression of it (see `readExpression`). */
  read: string
  /** The placeholder for a written value (`?`, or `ST_GeomFromText(?)`). */
  write: string
  /** The column as an expression that orders by UTF-8 bytes (text), or the column. */
  order: string
  /**
   * A text column whose collation can hold two different keys equal
   * (`_ci`, `_ai`, or PAD SPACE, where `'a'` = `'a '`): writes check
   * that a batch never has two keys that it would merge.
   */
  mergesKeys: boolean
  /** Turns the driver's value into the canonical one; absent when it already is. */
  decode?: Decoder
}

/** A unique index (the primary key included). */
export interface UniqueIndex {
  name: string
  columns: string[]
  /** Some column is indexed by a prefix only (`UNIQUE (name(10))`). */
  prefix: boolean
}

/** An entity with its catalog details, cached by the connector. */
export interface MyTable {
  info: EntityInfo
  database: string
  table: string
  /** `` `db`.`table` ``. */
  sql: string
  /** Field name → column details, in table order. */
  columns: Map<string, MyColumn>
  /** Field name → FieldInfo (what the shared SQL builders take). */
  fields: Map<string, FieldInfo>
  /** A dialect whose `binaryOrder` knows this entity's collations. */
  dialect: SqlDialect
  /** Whether rows can be written (base tables, not views). */
  writable: boolean
  uniqueIndexes: UniqueIndex[]
}

const INTEGER_TYPES = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint', 'year'])
/** The character string types (`information_schema.COLUMNS.DATA_TYPE`). */
export const TEXT_TYPES = new Set(['char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext'])
const BYTES_TYPES = new Set(['binary', 'varbinary', 'tinyblob', 'blob', 'mediumblob', 'longblob'])
const SPATIAL_TYPES = new Set(['geometry', 'point', 'linestring', 'polygon', 'multipoint', 'multilinestring', 'multipolygon', 'geometrycollection', 'geomcollection'])
const SYSTEM_SCHEMAS = ['information_schema', 'mysql', 'performance_schema', 'sys']

interface TableRow extends RowDataPacket {
  db: string
  name: string
  kind: string
}

interface ColumnRow extends RowDataPacket {
  db: string
  table_name: string
  name: string
  nullable: string
  data_type: string
  column_type: string
  char_length: number | string | null
  octet_length: number | string | null
  num_precision: number | string | null
  num_scale: number | string | null
  dt_precision: number | string | null
  charset: string | null
  collation: string | null
  extra: string | null
  comment: string | null
}

interface IndexRow extends RowDataPacket {
  db: string
  table_name: string
  index_name: string
  column_name: string
  sub_part: number | null
}

interface ForeignKeyRow extends RowDataPacket {
  db: string
  table_name: string
  constraint_name: string
  column_name: string
  ref_db: string
  ref_table: string
  ref_column: string
}

interface CheckRow extends RowDataPacket {
  db: string
  table_name: string
  clause: string
}

/**
 * The (database, table) pairs an entity name may mean, most likely first:
 * `` `a`.`b` `` → (a, b); `a.b` → (a, b) then (URL database, `a.b`); `t` → (URL database, t).
 */
export function entityCandidates(entity: string, defaultDatabase: string): Array<[string, string]> {
  const quoted = /^`((?:[^`]|``)*)`\s*\.\s*`((?:[^`]|``)*)`$/.exec(entity) ?? /^([^`.]*)\s*\.\s*`((?:[^`]|``)*)`$/.exec(entity)
  if (quoted) return [[quoted[1]!.replace(/``/g, '`'), quoted[2]!.replace(/``/g, '`')]]
  const single = /^`((?:[^`]|``)*)`$/.exec(entity)
  if (single) return defaultDatabase ? [[defaultDatabase, single[1]!.replace(/``/g, '`')]] : []
  const out: Array<[string, string]> = []
  for (let i = entity.indexOf('.'); i > 0; i = entity.indexOf('.', i + 1)) out.push([entity.slice(0, i), entity.slice(i + 1)])
  if (defaultDatabase) out.push([defaultDatabase, entity])
  return out
}

/** The name a plan uses: `table` in the URL's database, else `database.table`. */
export function entityName(database: string, table: string, defaultDatabase: string): string {
  return database === defaultDatabase ? table : `${database}.${table}`
}

function num(value: number | string | null | undefined): number | undefined {
  return value === null || value === undefined ? undefined : Number(value)
}

/** Storage bits of the integer and float types (FieldInfo.bits); MEDIUMINT's 24 round up to 32. */
const BITS: Record<string, 8 | 16 | 32 | 64> = { tinyint: 8, smallint: 16, mediumint: 32, int: 32, integer: 32, bigint: 64, year: 16, float: 32, double: 64, real: 64 }

/** The width and sign of an integer or float column, so `create: true` elsewhere makes one of the same size. */
function widthOf(field: FieldInfo, dataType: string, columnType: string): void {
  if (field.type !== 'integer' && field.type !== 'float') return
  if (dataType === 'bit') {
    const length = Number(/\((\d+)\)/.exec(columnType)?.[1] ?? 1)
    field.bits = length <= 8 ? 8 : length <= 16 ? 16 : length <= 32 ? 32 : 64
    field.unsigned = true
    return
  }
  const bits = BITS[dataType]
  if (bits === undefined) return
  field.bits = bits
  // MEDIUMINT UNSIGNED (24 bits) still fits a signed 32-bit integer.
  if (field.type === 'integer' && / unsigned/i.test(columnType) && dataType !== 'mediumint') field.unsigned = true
}

/** A DATETIME column comment that marks it as holding UTC instants (see create-table.ts). */
export const UTC_COMMENT = /\bUTC\b/i

/** The canonical type of a column. */
function canonicalType(row: ColumnRow, json: boolean): CanonicalType {
  const dataType = row.data_type.toLowerCase()
  const columnType = row.column_type.toLowerCase()
  if (json || dataType === 'json') return 'json'
  if (dataType === 'tinyint' && columnType === 'tinyint(1)') return 'boolean'
  if (dataType === 'bit') return columnType === 'bit(1)' ? 'boolean' : 'integer'
  if (INTEGER_TYPES.has(dataType)) return 'integer'
  if (dataType === 'decimal' || dataType === 'numeric') return 'decimal'
  if (dataType === 'float' || dataType === 'double' || dataType === 'real') return 'float'
  if (BYTES_TYPES.has(dataType)) return 'bytes'
  if (dataType === 'date') return 'date'
  if (dataType === 'timestamp') return 'timestamp'
  // DATETIME is a wall clock without a zone, unless its comment says it holds UTC
  // (syncline creates zoned timestamps that way: TIMESTAMP ends in 2038).
  if (dataType === 'datetime') return UTC_COMMENT.test(row.comment ?? '') ? 'timestamp' : 'localtimestamp'
  if (dataType === 'time') return 'time'
  if (dataType === 'uuid') return 'uuid'
  if (dataType === 'enum') return 'enum'
  // A SET holds some of its members: an array of enum elements (docs/values.md).
  if (dataType === 'set') return 'array'
  return 'text'
}

/** The order expression of a text column: a binary NO PAD collation, or BINARY where the server has none. */
function binaryText(expression: string, utf8mb4: boolean, server: ServerInfo): string {
  if (!server.binaryCollation) return `CAST(${utf8mb4 ? expression : `CONVERT(${expression} USING utf8mb4)`} AS BINARY)`
  return utf8mb4 ? `${expression} COLLATE ${server.binaryCollation}` : `CONVERT(${expression} USING utf8mb4) COLLATE ${server.binaryCollation}`
}

/** How a column is read: spatial types as WKT, FLOAT widened (it prints 6 digits in the text protocol), timestamps formatted canonically by the server. */
function readExpression(name: string, dataType: string, type: CanonicalType): string {
  if (SPATIAL_TYPES.has(dataType)) return `ST_AsText(${name})`
  if (dataType === 'float') return `(${name} + 0e0)`
  if (type === 'localtimestamp') return `DATE_FORMAT(${name}, '%Y-%m-%dT%H:%i:%s.%f')`
  if (dataType === 'datetime' || dataType === 'timestamp') return `DATE_FORMAT(${name}, '%Y-%m-%dT%H:%i:%s.%fZ')`
  return name
}

function toColumn(row: ColumnRow, json: boolean, server: ServerInfo, tableSql: string): MyColumn {
  const dataType = row.data_type.toLowerCase()
  const type = canonicalType(row, json)
  const name = quoteIdent(row.name)
  // Qualified, so ORDER BY means the column, not the SELECT list's formatted alias of it (which no index serves).
  const qualified = `${tableSql}.${name}`
  const isText = TEXT_TYPES.has(dataType) && type === 'text'
  const mergesKeys = isText && !isExactCollation(row.collation)
  const nativeType = json ? 'json' : mergesKeys && row.collation ? `${row.column_type} COLLATE ${row.collation}` : row.column_type
  const field: FieldInfo = { name: row.name, type, nativeType, nullable: row.nullable === 'YES' }
  if ((dataType === 'char' || dataType === 'varchar') && row.char_length !== null) field.maxLength = Number(row.char_length)
  if (type === 'enum' || type === 'array') {
    field.enumValues = enumMembers(row.column_type) ?? []
    if (type === 'array') field.elementType = 'enum'
  }
  if (type === 'decimal') {
    field.precision = num(row.num_precision)!
    field.scale = num(row.num_scale) ?? 0
  }
  widthOf(field, dataType, row.column_type)
  if ((row.extra ?? '').toLowerCase().includes('auto_increment')) field.autoIncrement = true
  // Read as WKT: no canonical type stands for them (a SET is an array of its members).
  if (SPATIAL_TYPES.has(dataType)) field.nativeAsText = true
  const extra = (row.extra ?? '').toLowerCase()
  let order = qualified
  if (isText) {
    order = row.collation === server.binaryCollation ? qualified : binaryText(qualified, row.charset === 'utf8mb4', server)
  } else if (type === 'text' || type === 'uuid' || type === 'json' || type === 'enum' || type === 'array') {
    // ENUM and SET order by member number, MariaDB's UUID by its time fields: order by the text.
    order = binaryText(`CAST(${qualified} AS CHAR CHARACTER SET utf8mb4)`, true, server)
  }
  const column: MyColumn = {
    field,
    dataType,
    unsigned: / unsigned/i.test(row.column_type),
    charset: row.charset,
    collation: row.collation,
    generated: /generated|persistent/.test(extra) && !/default_generated/.test(extra),
    autoIncrement: extra.includes('auto_increment'),
    read: readExpression(name, dataType, type),
    write: SPATIAL_TYPES.has(dataType) ? 'ST_GeomFromText(?)' : '?',
    order,
    mergesKeys,
  }
  if ((TEXT_TYPES.has(dataType) && dataType !== 'char' && dataType !== 'varchar') || BYTES_TYPES.has(dataType)) column.maxBytes = num(row.octet_length)
  if (dataType === 'datetime' || dataType === 'timestamp' || dataType === 'time') column.fractionDigits = num(row.dt_precision) ?? 0
  const decode = decoderFor(type, dataType)
  if (decode) column.decode = decode
  return column
}

function groupBy<T, K>(rows: readonly T[], key: (row: T) => K): Map<K, T[]> {
  const out = new Map<K, T[]>()
  for (const row of rows) {
    const k = key(row)
    const list = out.get(k)
    if (list) list.push(row)
    else out.set(k, [row])
  }
  return out
}

/** `db\u0000table`: a map key for a table. */
function tableKey(db: string, table: string): string {
  return `${db}\u0000${table}`
}

/**
 * Describe entities: every table and view of `database` (all non-system
 * databases when it is empty), or just `table` in it.
 */
export async function loadTables(db: Queryable, server: ServerInfo, defaultDatabase: string, database: string, table?: string): Promise<MyTable[]> {
  const scope = database ? 'TABLE_SCHEMA = ?' : `TABLE_SCHEMA NOT IN (${SYSTEM_SCHEMAS.map(() => '?').join(', ')})`
  const params: string[] = database ? [database] : [...SYSTEM_SCHEMAS]
  const one = table === undefined ? '' : ' AND TABLE_NAME = ?'
  if (table !== undefined) params.push(table)
  const [tables] = await db.query<TableRow[]>(
    `SELECT TABLE_SCHEMA AS db, TABLE_NAME AS name, TABLE_TYPE AS kind FROM information_schema.TABLES WHERE ${scope}${one} ORDER BY TABLE_SCHEMA, TABLE_NAME`,
    params,
  )
  if (tables.length === 0) return []
  const [[columns], [indexes], [foreignKeys], checks] = await Promise.all([
    db.query<ColumnRow[]>(
      `SELECT TABLE_SCHEMA AS db, TABLE_NAME AS table_name, COLUMN_NAME AS name, IS_NULLABLE AS nullable, DATA_TYPE AS data_type,
              COLUMN_TYPE AS column_type, CHARACTER_MAXIMUM_LENGTH AS char_length, CHARACTER_OCTET_LENGTH AS octet_length,
              NUMERIC_PRECISION AS num_precision, NUMERIC_SCALE AS num_scale, DATETIME_PRECISION AS dt_precision,
              CHARACTER_SET_NAME AS charset, COLLATION_NAME AS collation, EXTRA AS extra, COLUMN_COMMENT AS comment
         FROM information_schema.COLUMNS WHERE ${scope}${one} ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION`,
      params,
    ),
    db.query<IndexRow[]>(
      `SELECT TABLE_SCHEMA AS db, TABLE_NAME AS table_name, INDEX_NAME AS index_name, COLUMN_NAME AS column_name, SUB_PART AS sub_part
         FROM information_schema.STATISTICS WHERE ${scope}${one} AND NON_UNIQUE = 0
        ORDER BY TABLE_SCHEMA, TABLE_NAME, INDEX_NAME <> 'PRIMARY', INDEX_NAME, SEQ_IN_INDEX`,
      params,
    ),
    db.query<ForeignKeyRow[]>(
      `SELECT TABLE_SCHEMA AS db, TABLE_NAME AS table_name, CONSTRAINT_NAME AS constraint_name, COLUMN_NAME AS column_name,
              REFERENCED_TABLE_SCHEMA AS ref_db, REFERENCED_TABLE_NAME AS ref_table, REFERENCED_COLUMN_NAME AS ref_column
         FROM information_schema.KEY_COLUMN_USAGE WHERE ${scope}${one} AND REFERENCED_TABLE_NAME IS NOT NULL
        ORDER BY TABLE_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION`,
      params,
    ),
    // MariaDB's JSON is LONGTEXT with a CHECK (json_valid(`col`)) constraint.
    server.flavor === 'MariaDB'
      ? db
          .query<CheckRow[]>(
            `SELECT CONSTRAINT_SCHEMA AS db, TABLE_NAME AS table_name, CHECK_CLAUSE AS clause FROM information_schema.CHECK_CONSTRAINTS
              WHERE ${scope.replace('TABLE_SCHEMA', 'CONSTRAINT_SCHEMA')}${one} AND CHECK_CLAUSE LIKE 'json\\_valid(%'`,
            params,
          )
          .then(([rows]) => rows)
      : Promise.resolve([] as CheckRow[]),
  ])

  const columnsOf = groupBy(columns, (r) => tableKey(r.db, r.table_name))
  const indexesOf = groupBy(indexes, (r) => tableKey(r.db, r.table_name))
  const foreignKeysOf = groupBy(foreignKeys, (r) => tableKey(r.db, r.table_name))
  const jsonColumns = new Set(checks.map((c) => `${tableKey(c.db, c.table_name)}\u0000${c.clause}`))

  return tables.map((t) => {
    const key = tableKey(t.db, t.name)
    const myColumns = new Map<string, MyColumn>()
    for (const row of columnsOf.get(key) ?? []) {
      const json = row.data_type.toLowerCase() === 'longtext' && jsonColumns.has(`${key}\u0000json_valid(${quoteIdent(row.name)})`)
      myColumns.set(row.name, toColumn(row, json, server, quoteTable(t.db, t.name)))
    }
    const uniqueIndexes: UniqueIndex[] = [...groupBy(indexesOf.get(key) ?? [], (r) => r.index_name)].map(([name, rows]) => ({
      name,
      columns: rows.map((r) => r.column_name),
      prefix: rows.some((r) => r.sub_part !== null),
    }))
    const primaryKey = uniqueIndexes.find((i) => i.name === 'PRIMARY')?.columns ?? []
    // A prefix index is not a unique key of the full values.
    const uniqueKeys = uniqueIndexes.filter((i) => i.name !== 'PRIMARY' && !i.prefix).map((i) => i.columns)
    const fks: ForeignKeyInfo[] = [...groupBy(foreignKeysOf.get(key) ?? [], (r) => r.constraint_name).values()].map((rows) => ({
      fields: rows.map((r) => r.column_name),
      references: { entity: entityName(rows[0]!.ref_db, rows[0]!.ref_table, defaultDatabase), fields: rows.map((r) => r.ref_column) },
    }))
    const fields = new Map([...myColumns].map(([name, column]) => [name, column.field]))
    const orders = new Map([...myColumns].map(([name, column]) => [quoteIdent(name), column.order]))
    return {
      info: { name: entityName(t.db, t.name, defaultDatabase), fields: [...fields.values()], primaryKey, uniqueKeys, foreignKeys: fks },
      database: t.db,
      table: t.name,
      sql: quoteTable(t.db, t.name),
      columns: myColumns,
      fields,
      dialect: mysqlDialect((column) => orders.get(column) ?? column),
      writable: t.kind === 'BASE TABLE' || t.kind === 'SYSTEM VERSIONED',
      uniqueIndexes,
    }
  })
}

/** Find one entity by its plan name; undefined when it does not exist. */
export async function findTable(db: Queryable, server: ServerInfo, entity: string, defaultDatabase: string): Promise<MyTable | undefined> {
  for (const [database, table] of entityCandidates(entity, defaultDatabase)) {
    const found = await loadTables(db, server, defaultDatabase, database, table)
    if (found[0]) return found[0]
  }
  return undefined
}

/** The names of all user entities (bare in the URL's database), for "did you mean" hints. */
export async function entityNames(db: Queryable, defaultDatabase: string): Promise<string[]> {
  const [rows] = await db.query<TableRow[]>(
    `SELECT TABLE_SCHEMA AS db, TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA NOT IN (${SYSTEM_SCHEMAS.map(() => '?').join(', ')})`,
    SYSTEM_SCHEMAS,
  )
  return rows.map((r) => entityName(r.db, r.name, defaultDatabase))
}

/**
 * The error for a missing entity: names the closest existing one and the fix.
 * @param where `connection 'shop' (127.0.0.1:3306/shop)`
 */
export async function entityNotFound(db: Queryable, entity: string, defaultDatabase: string, where: string, cause?: unknown): Promise<NotFoundError> {
  const names = await entityNames(db, defaultDatabase).catch(() => [] as string[])
  const hint = didYouMean(entity, names)
  const naming = defaultDatabase
    ? `table (in database '${defaultDatabase}') or database.table`
    : 'database.table (the URL names no database)'
  return new NotFoundError(
    'ENTITY_NOT_FOUND',
    'config',
    `Entity '${entity}' does not exist in ${where}.${hint} Check the name (${naming}; names are case-sensitive), or set create: true on the destination to create it.`,
    { cause, details: { entity } },
  )
}
