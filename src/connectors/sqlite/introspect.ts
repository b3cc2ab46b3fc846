/**
 * Describing tables and views from `pragma_table_list`, `pragma_table_xinfo`,
 * `pragma_index_list` / `pragma_index_info` and `pragma_foreign_key_list`.
 * The pragmas are used as table-valued functions so names travel as parameters.
 */
import type Database from 'better-sqlite3'
import { closestName, didYouMean, NotFoundError } from '../../errors.js'
import type { EntityInfo, FieldInfo, ForeignKeyInfo } from '../../values/canonical.js'
import { canonicalTypeOf } from './codec.js'

interface TableListRow {
  name: string
  type: string
  wr: bigint
}

interface ColumnRow {
  name: string
  type: string
  notnull: bigint
  pk: bigint
  hidden: bigint
}

interface IndexRow {
  name: string
  unique: bigint
  origin: string
  partial: bigint
}

interface ForeignKeyRow {
  id: bigint
  table: string
  from: string
  to: string | null
}

/** A table or view of the main schema. */
export interface TableRef {
  name: string
  kind: 'table' | 'view'
  withoutRowid: boolean
}

/** Tables and views of the main schema, SQLite's own `sqlite_…` tables and syncline's change log (`_syncline_…`) left out. */
export function listTables(db: Database.Database): TableRef[] {
  const rows = db
    .prepare(
      `SELECT name, type, wr FROM pragma_table_list WHERE schema = 'main' AND type IN ('table', 'view') AND substr(name, 1, 7) <> 'sqlite_' AND substr(name, 1, 10) <> '_syncline_' ORDER BY name`,
    )
    .all() as TableListRow[]
  return rows.map((r) => ({ name: r.name, kind: r.type === 'view' ? 'view' : 'table', withoutRowid: Number(r.wr) === 1 }))
}

/**
 * The table an entity name refers to: the exact name, else the name matched
 * as SQLite matches it (ASCII case-insensitively), optionally prefixed `main.`.
 */
export function findTable(db: Database.Database, entity: string): TableRef | undefined {
  const tables = listTables(db)
  const match = (name: string) => tables.find((t) => t.name === name) ?? tables.find((t) => t.name.toLowerCase() === name.toLowerCase())
  return match(entity) ?? (/^main\./i.test(entity) ? match(entity.slice(5)) : undefined)
}

/** Describe a table or view: fields with canonical types, primary, unique and foreign keys. */
export function describeTable(db: Database.Database, table: TableRef): EntityInfo {
  const columns = (db.prepare(`SELECT name, type, "notnull", pk, hidden FROM pragma_table_xinfo(?) ORDER BY cid`).all(table.name) as ColumnRow[]).filter(
    (c) => Number(c.hidden) !== 1,
  )
  const primaryKey = columns
    .filter((c) => Number(c.pk) > 0)
    .sort((a, b) => Number(a.pk) - Number(b.pk))
    .map((c) => c.name)
  // `INTEGER PRIMARY KEY` makes the column the rowid, which can never be NULL.
  const rowidAlias = !table.withoutRowid && primaryKey.length === 1 ? columns.find((c) => c.name === primaryKey[0] && c.type.trim().toUpperCase() === 'INTEGER') : undefined

  const fields: FieldInfo[] = columns.map((c) => {
    const notNull = Number(c.notnull) === 1 || c === rowidAlias || (table.withoutRowid && Number(c.pk) > 0)
    return { name: c.name, nativeType: c.type, nullable: !notNull, ...canonicalTypeOf(c.type) }
  })

  return { name: table.name, fields, primaryKey, uniqueKeys: uniqueKeysOf(db, table.name, primaryKey), foreignKeys: foreignKeysOf(db, table.name) }
}

function uniqueKeysOf(db: Database.Database, table: string, primaryKey: readonly string[]): string[][] {
  const indexes = db.prepare(`SELECT name, "unique", origin, partial FROM pragma_index_list(?)`).all(table) as IndexRow[]
  const keys: string[][] = []
  const seen = new Set([JSON.stringify([...primaryKey].sort())])
  for (const index of indexes) {
    // A partial index only makes some rows unique, so it is no key.
    if (Number(index.unique) !== 1 || Number(index.partial) === 1) continue
    const names = (db.prepare(`SELECT name FROM pragma_index_info(?) ORDER BY seqno`).pluck().all(index.name) as (string | null)[])
    if (names.length === 0 || names.some((n) => n === null)) continue
    const key = names as string[]
    const signature = JSON.stringify([...key].sort())
    if (seen.has(signature)) continue
    seen.add(signature)
    keys.push(key)
  }
  return keys
}

function foreignKeysOf(db: Database.Database, table: string): ForeignKeyInfo[] {
  const rows = db.prepare(`SELECT id, "table", "from", "to" FROM pragma_foreign_key_list(?) ORDER BY id, seq`).all(table) as ForeignKeyRow[]
  const byId = new Map<number, { from: string[]; to: (string | null)[]; entity: string }>()
  for (const row of rows) {
    const fk = byId.get(Number(row.id)) ?? { from: [], to: [], entity: row.table }
    fk.from.push(row.from)
    fk.to.push(row.to)
    byId.set(Number(row.id), fk)
  }
  return [...byId.values()].map((fk) => {
    let fields = fk.to as string[]
    // `REFERENCES parent` without columns means the parent's primary key.
    if (fk.to.some((t) => t === null)) {
      const parent = findTable(db, fk.entity)
      fields = parent ? describePrimaryKey(db, parent.name) : []
    }
    return { fields: fk.from, references: { entity: findTable(db, fk.entity)?.name ?? fk.entity, fields } }
  })
}

function describePrimaryKey(db: Database.Database, table: string): string[] {
  const columns = db.prepare(`SELECT name, pk FROM pragma_table_xinfo(?)`).all(table) as Pick<ColumnRow, 'name' | 'pk'>[]
  return columns
    .filter((c) => Number(c.pk) > 0)
    .sort((a, b) => Number(a.pk) - Number(b.pk))
    .map((c) => c.name)
}

/** The ENTITY_NOT_FOUND error, naming the closest existing table and the fix. */
export function entityNotFound(db: Database.Database | undefined, entity: string, connection: string, path: string): NotFoundError {
  const names = db ? listTables(db).map((t) => t.name) : []
  const hint = names.length === 0 ? ' It has no tables yet.' : didYouMean(entity, names)
  return new NotFoundError(
    'ENTITY_NOT_FOUND',
    'config',
    `Connection '${connection}' (SQLite ${path}) has no table or view '${entity}'.${hint} ` +
      `Fix the entity name in the plan (\`syncline discover ${connection}\` lists them), or set create: true on a destination.`,
    { details: { connection, entity, suggestion: closestName(entity, names) } },
  )
}
