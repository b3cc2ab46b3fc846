/**
 * Row helpers every SQL sink needs before it writes: finding a field's
 * column, a text form of a key, keeping the last row per key, and grouping
 * rows by the fields they carry. One copy, so the same bad record gives the
 * same error code in every connector.
 */
import { NotFoundError, RecordError, SynclineError, didYouMean } from '../../errors.js'
import type { EntityInfo, KeyValues, Row } from '../../values/canonical.js'

/** What these helpers need of a connector's table description (`PgTable`, `MyTable`). */
export interface ColumnTable<C> {
  info: EntityInfo
  /** Field name → column details. */
  columns: Map<string, C>
}

/** The column of a field, or FIELD_NOT_FOUND naming the closest one. */
export function columnOf<C>(table: ColumnTable<C>, name: string): C {
  const column = table.columns.get(name)
  if (column) return column
  throw new NotFoundError(
    'FIELD_NOT_FOUND',
    'config',
    `Entity '${table.info.name}' has no field '${name}'.${didYouMean(name, table.columns.keys())} Check the field names in the plan (they are case-sensitive).`,
    { details: { entity: table.info.name, field: name } },
  )
}

/** A text key for a row's key values, equal for equal canonical keys (a Map key, never shown). */
export function keyText(values: KeyValues): string {
  let out = ''
  for (const v of values) out += (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : String(v)) + '\u0000'
  return out
}

/**
 * The KEY_MISSING record error for a row without a value for a key field.
 * A NULL key matches no row, and into an auto-increment key it would even
 * make the database invent one, so it is refused before anything is sent.
 * @example throw keyMissing('public.customers', 'id')
 */
export function keyMissing(entity: string, field: string): RecordError {
  return new RecordError('KEY_MISSING', 'data', `A record for '${entity}' has no value for key field ${field}. Map a non-empty field to ${field}.`, {
    details: { entity, field },
  })
}

/**
 * Keep the last row of each key: one statement must not carry a key twice
 * (`ON CONFLICT DO UPDATE` refuses to touch one row twice), and the last
 * write is the one that counts. Returns a copy; the order of first
 * appearance is kept.
 */
export function dedupeByKey(rows: readonly Row[], keys: readonly string[]): Row[] {
  if (rows.length < 2) return [...rows]
  const byKey = new Map<string, Row>()
  for (const row of rows) byKey.set(keyText(keys.map((k) => row[k] ?? null)), row)
  return byKey.size === rows.length ? [...rows] : [...byKey.values()]
}

/** Rows that carry the same fields, and those fields' columns (keys first). */
export interface RowGroup<C> {
  columns: C[]
  rows: Row[]
}

/**
 * Rows grouped by the set of fields they carry (normally one group), keys
 * first. A field whose value is `undefined` is not carried (its column keeps
 * its value or default). Throws KEY_MISSING for a row without a key value and
 * FIELD_NOT_FOUND for a field the table lacks; `acceptColumns` may refuse a
 * group's columns (MySQL's generated columns).
 */
export function groupByColumns<C>(table: ColumnTable<C>, rows: readonly Row[], keys: readonly string[], acceptColumns?: (columns: C[]) => void): RowGroup<C>[] {
  const groups = new Map<string, RowGroup<C>>()
  let lastSignature = ''
  let last: RowGroup<C> | undefined
  for (const row of rows) {
    for (const key of keys) {
      if (row[key] === undefined || row[key] === null) throw keyMissing(table.info.name, key)
    }
    const names = Object.keys(row).filter((n) => row[n] !== undefined)
    const signature = names.join('\u0000')
    if (signature !== lastSignature || !last) {
      last = groups.get(signature)
      if (!last) {
        const ordered = [...keys, ...names.filter((n) => !keys.includes(n))]
        const columns = ordered.map((n) => columnOf(table, n))
        acceptColumns?.(columns)
        last = { columns, rows: [] }
        groups.set(signature, last)
      }
      lastSignature = signature
    }
    last.rows.push(row)
  }
  return [...groups.values()]
}

/** KEY_MISSING (config) for a write without key fields. */
export function keysRequired(entity: string): SynclineError {
  return new SynclineError('KEY_MISSING', 'config', `Writing to '${entity}' needs key fields; set keys: in the sync.`)
}
