/**
 * Follows the greatest `(cursor, key)` over rows as a bulk export streams
 * them, for {@link BulkExport.highest}: exporters that decode every row
 * anyway get the watermark from the same statement, hence the same
 * snapshot, and in canonical order whatever the stored formats.
 */
import type { FieldInfo, KeyValues, Row, Value } from '../values/canonical.js'
import { compareKeys, compareValues } from '../values/compare.js'

/** Tracks the highest `(cursor, key)`; rows with a NULL cursor are left out. */
export interface HighestTracker {
  /** Note one row, given as values in the order of the fields it was made with. */
  note(values: readonly Value[]): void
  /** The row (cursor and key fields) with the highest `(cursor, key)`, or null. */
  row(): Row | null
}

/** A tracker over rows whose values come in the order of `fields`. */
export function highestTracker(fields: readonly FieldInfo[], cursor: string, keys: readonly string[]): HighestTracker {
  const index = (name: string) => fields.findIndex((f) => f.name === name)
  const cursorAt = index(cursor)
  const keyAt = keys.map(index)
  if (cursorAt < 0 || keyAt.some((i) => i < 0)) throw new Error(`highestTracker: ${cursor} and ${keys.join(', ')} must be among the fields`)
  const cursorType = fields[cursorAt]!.type
  const keyTypes = keyAt.map((i) => fields[i]!.type)
  let best: { cursor: Value; key: KeyValues } | undefined
  return {
    note(values) {
      const value = values[cursorAt] ?? null
      if (value === null) return
      const key = keyAt.map((i) => values[i] ?? null)
      if (!best || (compareValues(cursorType, value, best.cursor) || compareKeys(keyTypes, key, best.key)) > 0) best = { cursor: value, key }
    },
    row() {
      if (!best) return null
      const row: Row = { [cursor]: best.cursor }
      keys.forEach((k, i) => (row[k] = best!.key[i] ?? null))
      return row
    },
  }
}
