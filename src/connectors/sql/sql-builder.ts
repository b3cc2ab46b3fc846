/**
 * SQL fragments shared by the SQL connectors: filters, keyset and cursor
 * conditions, ORDER BY. Identifiers are always quoted by the dialect and
 * values always travel as parameters, never spliced into the text.
 */
import type { CursorScan, Filter } from '../connector.js'
import type { CanonicalType, FieldInfo, KeyValues, Value } from '../../values/canonical.js'

/** What differs between SQL dialects for the fragments built here. */
export interface SqlDialect {
  /** Quote an identifier (`"a""b"` for PostgreSQL and SQLite, `` `a``b` `` for MySQL). */
  quoteIdent(name: string): string
  /** The placeholder for parameter number `index` (1-based): `$1` or `?`. */
  placeholder(index: number): string
  /** Encode a canonical value for use as a parameter of a field of this type. */
  encodeParam(value: Value, field: FieldInfo): unknown
  /**
   * Wrap a column reference so it orders by UTF-8 bytes, e.g.
   * `"name" COLLATE "C"`; identity where the column already does.
   */
  binaryOrder(column: string, type: CanonicalType): string
  /**
   * Optional: the expression to compare and order a column by, for dialects
   * whose stored form does not compare like the canonical value (SQLite keeps
   * exact decimals as text and timestamps in whatever format an application
   * wrote). Parameters from {@link SqlDialect.encodeParam} are compared with
   * it. Default: the column itself. Not used for `like`, `is_null`, `is_not_null`.
   */
  comparable?(column: string, field: FieldInfo): string
  /**
   * Optional: the expression to order a column by, where a cheaper one than
   * {@link SqlDialect.comparable} orders alike (SQLite timestamps all in one
   * fixed-width spelling sort as stored). Default: `comparable`.
   */
  orderable?(column: string, field: FieldInfo): string
}

/** A SQL fragment with its parameters. */
export interface SqlFragment {
  sql: string
  params: unknown[]
}

/** Collects parameters and hands out placeholders in order. */
export class ParamList {
  readonly values: unknown[] = []
  constructor(private readonly dialect: SqlDialect) {}

  /** Add a value and return its placeholder. */
  add(value: unknown): string {
    this.values.push(value)
    return this.dialect.placeholder(this.values.length)
  }
}

function fieldOf(fields: ReadonlyMap<string, FieldInfo>, name: string): FieldInfo {
  const field = fields.get(name)
  if (!field) throw new Error(`unknown field ${name}`)
  return field
}

/** The quoted column as the dialect compares it (see {@link SqlDialect.comparable}). */
function compared(dialect: SqlDialect, name: string, field: FieldInfo): string {
  const column = dialect.quoteIdent(name)
  return dialect.comparable ? dialect.comparable(column, field) : column
}

/**
 * `a = $1 AND b IN ($2, $3)`: the filters as one condition (empty string
 * when there are none). LIKE uses the database's own pattern syntax (`%`, `_`).
 */
export function filterCondition(dialect: SqlDialect, fields: ReadonlyMap<string, FieldInfo>, filters: readonly Filter[], params: ParamList): string {
  const parts: string[] = []
  for (const filter of filters) {
    const field = fieldOf(fields, filter.field)
    const raw = dialect.quoteIdent(filter.field)
    const column = compared(dialect, filter.field, field)
    const one = (v: Value) => params.add(dialect.encodeParam(v, field))
    switch (filter.op) {
      case 'is_null':
        parts.push(`${raw} IS NULL`)
        break
      case 'is_not_null':
        parts.push(`${raw} IS NOT NULL`)
        break
      case 'in':
      case 'not_in': {
        const values = (Array.isArray(filter.value) ? filter.value : [filter.value ?? null]) as Value[]
        if (values.length === 0) {
          parts.push(filter.op === 'in' ? '1 = 0' : '1 = 1')
          break
        }
        const list = values.map(one).join(', ')
        parts.push(`${column} ${filter.op === 'in' ? 'IN' : 'NOT IN'} (${list})`)
        break
      }
      case 'like':
        // A LIKE pattern is text whatever the field's type.
        parts.push(`${raw} LIKE ${params.add(dialect.encodeParam(filter.value as Value, { ...field, type: 'text' }))}`)
        break
      case '!=':
        parts.push(`${column} <> ${one(filter.value as Value)}`)
        break
      default:
        parts.push(`${column} ${filter.op} ${one(filter.value as Value)}`)
    }
  }
  return parts.join(' AND ')
}

/**
 * `(k1, k2) > ($1, $2)` in binary order: the keyset condition for "after this
 * key". Written as nested OR/AND so every dialect (and every collation
 * wrapper) handles it the same way.
 */
export function keysetCondition(dialect: SqlDialect, fields: ReadonlyMap<string, FieldInfo>, keys: readonly string[], after: KeyValues, params: ParamList): string {
  return keysetCompare(dialect, fields, keys, after, params, '>', '>')
}

/**
 * `(k1, k2) <= ($1, $2)` in binary order: the keyset condition for "up to
 * and including this key" (the upper bound of a key range), written like
 * {@link keysetCondition}.
 */
export function keysetThroughCondition(dialect: SqlDialect, fields: ReadonlyMap<string, FieldInfo>, keys: readonly string[], through: KeyValues, params: ParamList): string {
  return keysetCompare(dialect, fields, keys, through, params, '<', '<=')
}

/** The nested OR/AND form of a row comparison: `before` on every key field but the last, `last` on the last. */
function keysetCompare(dialect: SqlDialect, fields: ReadonlyMap<string, FieldInfo>, keys: readonly string[], values: KeyValues, params: ParamList, before: '>' | '<', last: '>' | '<='): string {
  // Each use adds its own parameter: `?`-style dialects cannot refer to one twice.
  const param = (i: number) => params.add(dialect.encodeParam(values[i] ?? null, fieldOf(fields, keys[i]!)))
  const columns = keys.map((k) => dialect.binaryOrder(compared(dialect, k, fieldOf(fields, k)), fieldOf(fields, k).type))
  // (a > x) OR (a = x AND b > y) OR (a = x AND b = y AND c > z)
  const ors: string[] = []
  for (let i = 0; i < keys.length; i++) {
    const ands: string[] = []
    for (let j = 0; j < i; j++) ands.push(`${columns[j]} = ${param(j)}`)
    ands.push(`${columns[i]} ${i === keys.length - 1 ? last : before} ${param(i)}`)
    ors.push(ands.length === 1 ? ands[0]! : `(${ands.join(' AND ')})`)
  }
  return ors.length === 1 ? ors[0]! : `(${ors.join(' OR ')})`
}

/** The condition of an incremental scan: after `(cursor, key)`, or `cursor >= value`. */
export function cursorCondition(dialect: SqlDialect, fields: ReadonlyMap<string, FieldInfo>, keys: readonly string[], cursor: CursorScan, params: ParamList): string {
  const cursorField = fieldOf(fields, cursor.field)
  const column = dialect.binaryOrder(compared(dialect, cursor.field, cursorField), cursorField.type)
  const from = cursor.from
  if (!from) return `${dialect.quoteIdent(cursor.field)} IS NOT NULL`
  const value = () => params.add(dialect.encodeParam(from.value, cursorField))
  if (!from.key) return `${column} >= ${value()}`
  const greater = `${column} > ${value()}`
  const equal = `${column} = ${value()}`
  return `(${greater} OR (${equal} AND ${keysetCondition(dialect, fields, keys, from.key, params)}))`
}

/** The quoted column as the dialect orders it (see {@link SqlDialect.orderable}). */
function ordered(dialect: SqlDialect, name: string, field: FieldInfo): string {
  return dialect.orderable ? dialect.orderable(dialect.quoteIdent(name), field) : compared(dialect, name, field)
}

/** `ORDER BY` for a key scan or a cursor scan, text keys in binary order. */
export function orderBy(dialect: SqlDialect, fields: ReadonlyMap<string, FieldInfo>, keys: readonly string[], cursorField?: string): string {
  const columns = keys.map((k) => dialect.binaryOrder(ordered(dialect, k, fieldOf(fields, k)), fieldOf(fields, k).type))
  if (cursorField !== undefined) {
    const cursor = fieldOf(fields, cursorField)
    columns.unshift(dialect.binaryOrder(ordered(dialect, cursorField, cursor), cursor.type))
  }
  return `ORDER BY ${columns.join(', ')}`
}

/** Join non-empty conditions with AND into a WHERE clause (or an empty string). */
export function where(conditions: readonly string[]): string {
  const parts = conditions.filter((c) => c.length > 0)
  return parts.length === 0 ? '' : `WHERE ${parts.map((c) => (parts.length > 1 ? `(${c})` : c)).join(' AND ')}`
}
