/**
 * The compound `(cursor, key)` watermark of incremental sync (DESIGN §3):
 * where the next scan starts, the highest point read, and the cap at the
 * oldest open transaction.
 */
import { keyOf, type CursorScan } from '../connectors/connector.js'
import type { Watermark } from '../state/state-store.js'
import { compareKeys, compareValues } from '../values/compare.js'
import { subtractMilliseconds } from '../values/temporal.js'
import type { CanonicalType, Row } from '../values/canonical.js'

/** Follows the highest `(cursor, key)` among the rows it is shown. */
export interface WatermarkTracker {
  cursorField: string
  cursorType: CanonicalType
  keys: readonly string[]
  keyTypes: readonly CanonicalType[]
  highest?: Watermark
}

/**
 * Whether a cursor type is a clock reading (zoned or local): those get the
 * look-back window and the cap at the oldest open transaction.
 */
export function isClockCursor(cursorType: CanonicalType | undefined): boolean {
  return cursorType === 'timestamp' || cursorType === 'localtimestamp'
}

/** Start tracking for a sync's cursor and keys. */
export function watermarkTracker(cursorField: string, cursorType: CanonicalType, keys: readonly string[], keyTypes: readonly CanonicalType[]): WatermarkTracker {
  return { cursorField, cursorType, keys, keyTypes }
}

/** Compare two watermarks; a watermark without a key sorts before every key at its cursor. */
export function compareWatermarks(tracker: WatermarkTracker, a: Watermark, b: Watermark): number {
  const byCursor = compareValues(tracker.cursorType, a.cursor, b.cursor)
  if (byCursor !== 0) return byCursor
  if (!a.key || !b.key) return a.key ? 1 : b.key ? -1 : 0
  return compareKeys(tracker.keyTypes, a.key, b.key)
}

/**
 * Note a row; rows with a NULL cursor are not part of the watermark. Called
 * for every row of a full pass, so the key is only built when the cursor
 * does not already decide.
 */
export function laterWatermark(tracker: WatermarkTracker, row: Row): void {
  const cursor = row[tracker.cursorField] ?? null
  if (cursor === null) return
  const highest = tracker.highest
  if (highest) {
    const byCursor = compareValues(tracker.cursorType, cursor, highest.cursor)
    if (byCursor < 0) return
    // A watermark without a key sorts before every key at its cursor.
    if (byCursor === 0 && highest.key && compareKeys(tracker.keyTypes, keyOf(row, tracker.keys), highest.key) <= 0) return
  }
  tracker.highest = { cursor, key: keyOf(row, tracker.keys) }
}

/**
 * Where the next incremental scan starts. With a look-back window (timestamp
 * cursors) it re-reads `cursor >= watermark - lookback`, so transactions that
 * committed late with older cursor values are still caught; unchanged rows
 * re-read this way are compared and not written.
 */
export function scanStart(cursorField: string, cursorType: CanonicalType, saved: Watermark | undefined, lookbackMs: number): CursorScan {
  if (!saved || saved.cursor === null) return { field: cursorField }
  if (isClockCursor(cursorType) && typeof saved.cursor === 'string' && lookbackMs > 0) {
    return { field: cursorField, from: { value: subtractMilliseconds(saved.cursor, lookbackMs) } }
  }
  return saved.key ? { field: cursorField, from: { value: saved.cursor, key: saved.key } } : { field: cursorField, from: { value: saved.cursor } }
}

/**
 * Cap a watermark at the start of the oldest transaction that was open when
 * the scan began: that transaction may still commit rows with cursor values
 * below what was read. The capped watermark has no key, so the next run
 * re-reads from the cap (inclusive).
 */
export function capWatermark(tracker: WatermarkTracker, watermark: Watermark, cap: string | undefined): Watermark {
  if (cap === undefined || !isClockCursor(tracker.cursorType)) return watermark
  // A local cursor is capped at the start's UTC wall clock (MySQL's cap is
  // already the earlier of UTC and the server zone's clock, see its source.ts).
  const bound = tracker.cursorType === 'localtimestamp' && cap.endsWith('Z') ? cap.slice(0, -1) : cap
  return compareValues(tracker.cursorType, watermark.cursor, bound) > 0 ? { cursor: bound } : watermark
}
