/**
 * Reading PostgreSQL's catalog: entities (tables, views), their fields with
 * canonical types, primary, unique and foreign keys.
 *
 * Entity names are `schema.table`; a bare `table` means schema `public`. A
 * name is matched exactly (case and spaces included); `"My Schema"."T"` with
 * double quotes is accepted too.
 */
import type pg from 'pg'
import { NotFoundError, didYouMean } from '../../errors.js'
import type { CanonicalType, EntityInfo, FieldInfo, ForeignKeyInfo } from '../../values/canonical.js'
import type { SqlDialect } from '../sql/sql-builder.js'
import { postgresDialect, quoteIdent, quoteTable } from './dialect.js'

/** Something that runs a query: a pool or a checked-out client. */
export type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>

/** A column with what the SQL builders need beyond its {@link FieldInfo}. */
export interface PgColumn {
  field: FieldInfo
  /**
   * Element type for array parameters (`$1::numeric[]`): the native type
   * without its modifier, so a lookup value is never silently cut to fit a
   * `varchar(3)`; `text` for types sent as text and cast with {@link castTo}.
   */
  paramType: string
  /** For values sent as text (arrays, intervals, ranges…): the type to cast them to. */
  castTo?: string
  /** Cast applied when reading the column (`text[]` for enum arrays), so the codec's parser of that type applies. */
  readCast?: string
  /** Appended to the column to order it by UTF-8 bytes (`COLLATE "C"`, `::text COLLATE "C"`, or nothing). */
  orderSuffix: string
  /** The OID of the sequence that fills the column (serial, identity): advanced past the values syncline writes (sequences.ts). */
  sequence?: number
  /** The type's name (a domain's base type): `numeric`, `timestamptz`, `bpchar`… */
  baseType: string
}

/** An entity with its catalog details, cached by the connector. */
export interface PgTable {
  info: EntityInfo
  schema: string
  table: string
  /** `"schema"."table"`. */
  sql: string
  /** Field name → column details, in table order. */
  columns: Map<string, PgColumn>
  /** Field name → FieldInfo (what the shared SQL builders take). */
  fields: Map<string, FieldInfo>
  /** A dialect whose `binaryOrder` knows this entity's collations. */
  dialect: SqlDialect
  /** Whether rows can be written (tables, not views). */
  writable: boolean
}

const TYPE_MAP: Record<string, CanonicalType> = {
  bool: 'boolean',
  int2: 'integer',
  int4: 'integer',
  int8: 'integer',
  oid: 'integer',
  numeric: 'decimal',
  float4: 'float',
  float8: 'float',
  text: 'text',
  varchar: 'text',
  bpchar: 'text',
  name: 'text',
  char: 'text',
  citext: 'text',
  date: 'date',
  time: 'time',
  timetz: 'time',
  timestamp: 'localtimestamp',
  timestamptz: 'timestamp',
  json: 'json',
  jsonb: 'json',
  bytea: 'bytes',
  uuid: 'uuid',
}

/** Storage bits of the integer and float types (FieldInfo.bits). */
const BITS: Record<string, 16 | 32 | 64> = { int2: 16, int4: 32, int8: 64, oid: 32, float4: 32, float8: 64 }

/** Text types whose comparisons follow their collation (so `COLLATE "C"` makes them byte-ordered). */
const COLLATABLE_TEXT = new Set(['text', 'varchar', 'bpchar', 'name'])

const USER_RELATIONS = `
  c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'`

interface RelationRow {
  oid: number
  schema: string
  table: string
  kind: string
}

interface ColumnRow {
  relid: number
  name: string
  not_null: boolean
  native_type: string
  param_type: string
  base_type: string
  category: string
  typmod: number
  collation: string | null
  sequence: number | null
  /** For an array: the element's type name and kind (`b` base, `e` enum, …). */
  element_type: string | null
  element_kind: string | null
  /** An enum's labels (or an enum array's element labels) in order, as JSON. */
  enum_labels: string | null
}

interface KeyRow {
  relid: number
  primary: boolean
  columns: string
}

interface ForeignKeyRow {
  relid: number
  columns: string
  ref_schema: string
  ref_table: string
  ref_columns: string
}

/**
 * Split an entity name into the (schema, table) pairs it may mean, most
 * likely first: `"a.b"."c"` (quoted), `a.b.c` → (a, b.c) then (a.b, c),
 * `t` → (public, t).
 */
export function entityCandidates(entity: string): Array<[string, string]> {
  const quoted = /^"((?:[^"]|"")*)"\s*\.\s*"((?:[^"]|"")*)"$/.exec(entity) ?? /^([^".]*)\s*\.\s*"((?:[^"]|"")*)"$/.exec(entity)
  if (quoted) return [[quoted[1]!.replace(/""/g, '"'), quoted[2]!.replace(/""/g, '"')]]
  const single = /^"((?:[^"]|"")*)"$/.exec(entity)
  if (single) return [['public', single[1]!.replace(/""/g, '"')]]
  const out: Array<[string, string]> = []
  for (let i = entity.indexOf('.'); i > 0; i = entity.indexOf('.', i + 1)) out.push([entity.slice(0, i), entity.slice(i + 1)])
  out.push(['public', entity])
  return out
}

/** The name a plan uses for an entity: `schema.table`. */
export function entityName(schema: string, table: string): string {
  return `${schema}.${table}`
}

/** Whether the database's default collation orders text by bytes. */
async function defaultCollationIsBinary(db: Queryable): Promise<boolean> {
  const { rows } = await db.query<{ binary: boolean }>(
    `SELECT d.datcollate IN ('C', 'POSIX') AND coalesce(to_jsonb(d) ->> 'datlocprovider', 'c') = 'c' AS binary
       FROM pg_database d WHERE d.datname = current_database()`,
  )
  return rows[0]?.binary ?? false
}

/**
 * Describe entities: all user tables and views, or those with the given OIDs.
 * Partitions are left out (their parent is listed).
 */
export async function loadTables(db: Queryable, oids?: number[]): Promise<PgTable[]> {
  const filter = oids ? 'AND c.oid = ANY($1::oid[])' : ''
  const params = oids ? [oids] : []
  const relations = await db.query<RelationRow>(
    `SELECT c.oid, n.nspname AS schema, c.relname AS table, c.relkind AS kind
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE ${USER_RELATIONS} ${filter}
      ORDER BY n.nspname, c.relname`,
    params,
  )
  if (relations.rows.length === 0) return []
  const relids = relations.rows.map((r) => r.oid)
  const [columns, keys, foreignKeys, binaryDefault] = await Promise.all([
    db.query<ColumnRow>(
      `SELECT a.attrelid AS relid, a.attname AS name, a.attnotnull AS not_null,
              format_type(a.atttypid, a.atttypmod) AS native_type,
              -- Unmodified element type for array parameters; plain 'character' would mean char(1).
              CASE WHEN coalesce(bt.typname, t.typname) = 'bpchar' THEN 'bpchar' ELSE format_type(coalesce(bt.oid, t.oid), NULL) END AS param_type,
              coalesce(bt.typname, t.typname) AS base_type,
              coalesce(bt.typcategory, t.typcategory) AS category,
              CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END AS typmod,
              co.collname AS collation,
              -- The sequence a serial (deptype 'a') or identity (deptype 'i') column takes its values from.
              (SELECT d.objid FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
                WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
                  AND d.refobjid = a.attrelid AND d.refobjsubid = a.attnum AND d.deptype IN ('a', 'i') LIMIT 1) AS sequence,
              et.typname AS element_type, et.typtype AS element_kind,
              (SELECT json_agg(e.enumlabel ORDER BY e.enumsortorder)::text FROM pg_enum e
                WHERE e.enumtypid = coalesce(et.oid, bt.oid, t.oid)) AS enum_labels
         FROM pg_attribute a
         JOIN pg_type t ON t.oid = a.atttypid
         LEFT JOIN pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype
         LEFT JOIN pg_type et ON coalesce(bt.typcategory, t.typcategory) = 'A' AND et.oid = coalesce(bt.typelem, t.typelem)
         LEFT JOIN pg_collation co ON co.oid = a.attcollation
        WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attrelid, a.attnum`,
      [relids],
    ),
    db.query<KeyRow>(
      `SELECT i.indrelid AS relid, i.indisprimary AS primary,
              to_json(ARRAY(SELECT a.attname::text
                              FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                              JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                             WHERE k.ord <= i.indnkeyatts ORDER BY k.ord)) AS columns
         FROM pg_index i
        WHERE i.indrelid = ANY($1::oid[]) AND i.indisunique AND i.indisvalid
          AND i.indpred IS NULL AND i.indexprs IS NULL
        ORDER BY i.indrelid, NOT i.indisprimary, i.indexrelid`,
      [relids],
    ),
    db.query<ForeignKeyRow>(
      `SELECT con.conrelid AS relid,
              to_json(ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
                             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum ORDER BY k.ord)) AS columns,
              rn.nspname AS ref_schema, rc.relname AS ref_table,
              to_json(ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)
                             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum ORDER BY k.ord)) AS ref_columns
         FROM pg_constraint con
         JOIN pg_class rc ON rc.oid = con.confrelid
         JOIN pg_namespace rn ON rn.oid = rc.relnamespace
        WHERE con.contype = 'f' AND con.conrelid = ANY($1::oid[])
        ORDER BY con.conrelid, con.conname`,
      [relids],
    ),
    defaultCollationIsBinary(db),
  ])

  const columnsOf = groupBy(columns.rows, (r) => r.relid)
  const keysOf = groupBy(keys.rows, (r) => r.relid)
  const foreignKeysOf = groupBy(foreignKeys.rows, (r) => r.relid)

  return relations.rows.map((relation) => {
    const pgColumns = new Map<string, PgColumn>()
    for (const row of columnsOf.get(relation.oid) ?? []) pgColumns.set(row.name, toColumn(row, binaryDefault))
    const unique = (keysOf.get(relation.oid) ?? []).map((k) => ({ primary: k.primary, columns: JSON.parse(k.columns) as string[] }))
    const primaryKey = unique.find((k) => k.primary)?.columns ?? []
    const uniqueKeys = unique.filter((k) => !k.primary).map((k) => k.columns)
    const fks: ForeignKeyInfo[] = (foreignKeysOf.get(relation.oid) ?? []).map((fk) => ({
      fields: JSON.parse(fk.columns) as string[],
      references: { entity: entityName(fk.ref_schema, fk.ref_table), fields: JSON.parse(fk.ref_columns) as string[] },
    }))
    const fields = new Map([...pgColumns].map(([name, column]) => [name, column.field]))
    const suffixes = new Map([...pgColumns].map(([name, column]) => [quoteIdent(name), column.orderSuffix]))
    return {
      info: { name: entityName(relation.schema, relation.table), fields: [...fields.values()], primaryKey, uniqueKeys, foreignKeys: fks },
      schema: relation.schema,
      table: relation.table,
      sql: quoteTable(relation.schema, relation.table),
      columns: pgColumns,
      fields,
      dialect: postgresDialect((column) => column + (suffixes.get(column) ?? '')),
      writable: relation.kind === 'r' || relation.kind === 'p' || relation.kind === 'f',
    }
  })
}

/**
 * The canonical element type of an array column: the element's own type
 * (`_int4` → integer), `enum` for an enum array; undefined for arrays of
 * types without a canonical counterpart (`inet[]`, `interval[]`), which
 * stay text.
 */
function arrayElementType(row: ColumnRow): CanonicalType | undefined {
  if (row.category !== 'A' || row.element_type === null) return undefined
  if (row.element_kind === 'e') return 'enum'
  return TYPE_MAP[row.element_type]
}

function toColumn(row: ColumnRow, binaryDefault: boolean): PgColumn {
  const elementType = arrayElementType(row)
  const isEnum = row.category === 'E' && row.enum_labels !== null
  const type: CanonicalType = elementType ? 'array' : isEnum ? 'enum' : (TYPE_MAP[row.base_type] ?? 'text')
  const field: FieldInfo = { name: row.name, type, nativeType: row.native_type, nullable: !row.not_null }
  if (elementType) field.elementType = elementType
  if (row.enum_labels !== null && (isEnum || elementType === 'enum')) field.enumValues = JSON.parse(row.enum_labels) as string[]
  const bits = BITS[row.base_type]
  if (bits !== undefined && type !== 'array') field.bits = bits
  if (row.base_type === 'oid') field.unsigned = true
  if (row.base_type === 'json') field.jsonText = true
  // Enums read as their labels, arrays of canonical elements as arrays; every other type missing from TYPE_MAP is its text form only.
  if (type === 'text' && TYPE_MAP[row.base_type] === undefined && row.category !== 'E') field.nativeAsText = true
  if ((row.base_type === 'varchar' || row.base_type === 'bpchar') && row.typmod > 4) field.maxLength = row.typmod - 4
  if (row.base_type === 'numeric' && row.typmod > 4) {
    field.precision = ((row.typmod - 4) >> 16) & 0xffff
    field.scale = (row.typmod - 4) & 0xffff
  }
  // Types read as text that PostgreSQL cannot take as a typed array parameter
  // (arrays would flatten, ranges and geometry have their own syntax): send
  // text and cast. Enums and strings arrive fine as typed arrays.
  const viaText = (type === 'text' && row.category !== 'S' && row.category !== 'E') || type === 'array'
  let orderSuffix = ''
  if (type === 'enum' || type === 'array') {
    // Enums order by declaration, arrays element-wise: order by the text, as the other types read as text do.
    orderSuffix = '::text COLLATE "C"'
  } else if (type === 'text') {
    const binary = row.collation === 'C' || row.collation === 'POSIX' || (row.collation === 'default' && binaryDefault)
    if (!COLLATABLE_TEXT.has(row.base_type)) orderSuffix = '::text COLLATE "C"'
    else if (!binary) orderSuffix = ' COLLATE "C"'
  } else if (type === 'json') {
    orderSuffix = '::text COLLATE "C"'
  }
  const column: PgColumn = viaText
    ? { field, paramType: 'text', castTo: row.param_type, orderSuffix, baseType: row.base_type }
    : { field, paramType: row.param_type, orderSuffix, baseType: row.base_type }
  if (row.sequence !== null) {
    column.sequence = Number(row.sequence)
    field.autoIncrement = true
  }
  // An enum array has no fixed OID (and so no parser): read it as text[].
  if (elementType === 'enum') column.readCast = 'text[]'
  return column
}

/** The names of all user entities, for "did you mean" hints. */
export async function entityNames(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ schema: string; table: string }>(
    `SELECT n.nspname AS schema, c.relname AS table FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ${USER_RELATIONS}`,
  )
  return rows.map((r) => entityName(r.schema, r.table))
}

/** Find one entity by its plan name; undefined when it does not exist. */
export async function findTable(db: Queryable, entity: string): Promise<PgTable | undefined> {
  const candidates = entityCandidates(entity)
  const { rows } = await db.query<{ oid: number; schema: string; table: string }>(
    `SELECT c.oid, n.nspname AS schema, c.relname AS table
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE ${USER_RELATIONS}
        AND (n.nspname, c.relname) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
    [candidates.map((c) => c[0]), candidates.map((c) => c[1])],
  )
  for (const [schema, table] of candidates) {
    const match = rows.find((r) => r.schema === schema && r.table === table)
    if (match) return (await loadTables(db, [match.oid]))[0]
  }
  return undefined
}

/**
 * The error for a missing entity: names the closest existing one and the fix.
 * @param where `connection 'warehouse' (127.0.0.1:5432/shop)`
 */
export async function entityNotFound(db: Queryable, entity: string, where: string, cause?: unknown): Promise<NotFoundError> {
  const names = await entityNames(db).catch(() => [] as string[])
  const bare = names.filter((n) => n.startsWith('public.')).map((n) => n.slice('public.'.length))
  const hint = didYouMean(entity, entity.includes('.') ? names : [...bare, ...names])
  return new NotFoundError(
    'ENTITY_NOT_FOUND',
    'config',
    `Entity '${entity}' does not exist in ${where}.${hint} Check the name (schema.table; a bare name means schema public), or set create: true on the destination to create it.`,
    { cause, details: { entity } },
  )
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
