/**
 * A text cursor is compared as text, byte by byte, on every side. Text that
 * holds timestamps in one spelling sorts as time does; in two spellings it
 * does not (`2025-01-06 13:00:00` sorts before `2025-01-06T12:00:00Z`, a
 * space being lower than `T`), and an incremental run would skip the later
 * row. Such a cursor is refused, by `validate --live` and by `run`, with
 * values that show it and the fix (docs/sync-semantics.md).
 */
import type { TimestampSpellings } from '../connectors/connector.js'
import type { FieldInfo } from '../values/canonical.js'
import { compareText } from '../values/compare.js'
import { timestampToMicros } from '../values/temporal.js'

function instant(text: string): bigint | undefined {
  try {
    return timestampToMicros(text)
  } catch {
    return undefined
  }
}

/** Two samples whose text order is the opposite of their time order: `[earlier as text, earlier in time]`. */
function disagreeing(samples: readonly string[]): [string, string] | undefined {
  for (const a of samples) {
    for (const b of samples) {
      const [ta, tb] = [instant(a), instant(b)]
      if (ta !== undefined && tb !== undefined && compareText(a, b) < 0 && ta > tb) return [a, b]
    }
  }
  return undefined
}

/**
 * The message refusing a text cursor whose timestamps come in several
 * spellings, naming values that show it and the fix.
 * @example cursorSpellingProblem(field, { samples: ['2025-01-06 13:00:00', '2025-01-06T12:00:00Z'], fix: '…' })
 */
export function cursorSpellingProblem(cursor: FieldInfo, found: TimestampSpellings): string {
  const pair = disagreeing(found.samples)
  const what = `cursor '${cursor.name}' is text (${cursor.nativeType || 'no declared type'}), compared as text, but holds timestamps in more than one spelling`
  const why = pair
    ? `'${pair[0]}' sorts before '${pair[1]}' as text, though it is later in time, so an incremental run would skip rows like it`
    : `(${found.samples.map((s) => `'${s}'`).join(', ')}), which sort as text by spelling before time, so an incremental run could skip rows`
  return `${what}: ${why}. Fix: ${found.fix}.`
}
