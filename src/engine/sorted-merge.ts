/**
 * Merge-join two key-ordered streams of row batches (DESIGN §3, full sync).
 *
 * Memory holds one batch per side plus one output chunk, never a table. The
 * comparison loop is synchronous; it only awaits to refill a side. Keys are
 * compared with {@link compareRowKeys}, the order the databases use, read in
 * place from the rows: a key pass merges every key of a table, and a key
 * array per row would be garbage made at {@link keyOf}'s allocation site,
 * which V8 allocates in the old generation once the run's long-lived
 * batches taught it that those arrays survive (docs/two-way.md,
 * Performance, Memory). Each side is checked to be strictly increasing: a repeat
 * means the key is not unique, a step back means the two sides disagree on
 * the order.
 */
import { SynclineError } from '../errors.js'
import { keyOf } from '../connectors/connector.js'
import { compareRowKeys } from '../values/compare.js'
import type { CanonicalType, Row } from '../values/canonical.js'

/** One key of the merge: present on the left, the right, or both. */
export interface MergeStep {
  left?: Row
  right?: Row
}

/** How to read each side of the merge. */
export interface MergeSide {
  rows: AsyncIterable<Row[]>
  keys: readonly string[]
  /** For error messages: `source shop.Customer`. */
  label: string
}

/** Buffered reader over a stream of batches. */
class SideReader {
  private readonly iterator: AsyncIterator<Row[]>
  private batch: Row[] = []
  private index = 0
  private done = false
  private last: Row | undefined
  /** Rows consumed so far. */
  consumed = 0

  constructor(
    private readonly side: MergeSide,
    private readonly types: readonly CanonicalType[],
  ) {
    this.iterator = side.rows[Symbol.asyncIterator]()
  }

  /** True when a row is buffered (refilling if needed); false at the end. */
  async fill(): Promise<boolean> {
    while (this.index >= this.batch.length) {
      if (this.done) return false
      const next = await this.iterator.next()
      if (next.done) {
        this.done = true
        return false
      }
      this.batch = next.value
      this.index = 0
    }
    return true
  }

  get hasBuffered(): boolean {
    return this.index < this.batch.length
  }

  get current(): Row {
    return this.batch[this.index]!
  }

  /** The current row's key against another side's current row (negative: this one first). */
  compareTo(other: SideReader): number {
    return compareRowKeys(this.types, this.current, this.side.keys, other.current, other.side.keys)
  }

  /** Move past the current row, checking the order. */
  advance(): void {
    const row = this.current
    if (this.last !== undefined) {
      const order = compareRowKeys(this.types, this.last, this.side.keys, row, this.side.keys)
      if (order >= 0) this.outOfOrder(row, order === 0)
    }
    this.last = row
    this.index++
    this.consumed++
  }

  private outOfOrder(row: Row, repeated: boolean): never {
    const key = JSON.stringify(keyOf(row, this.side.keys), jsonSafe)
    if (repeated) {
      throw new SynclineError(
        'KEY_NOT_UNIQUE',
        'config',
        `The key (${this.side.keys.join(', ')}) is not unique in ${this.side.label}: ${key} appears more than once. Choose keys that identify one row (set keys: in the plan).`,
      )
    }
    throw new SynclineError(
      'INTERNAL',
      'internal',
      `${this.side.label} returned key ${key} after ${JSON.stringify(keyOf(this.last!, this.side.keys), jsonSafe)}: its key order differs from byte order. This usually means a case-insensitive collation or key type; please report it with the table definition.`,
    )
  }

  async close(): Promise<void> {
    await this.iterator.return?.()
  }
}

function jsonSafe(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value
}

/**
 * Yield the merged steps in chunks of about `chunkSize`.
 * @example for await (const steps of sortedMerge(src, dst, types, 5000)) …
 */
export async function* sortedMerge(left: MergeSide, right: MergeSide, types: readonly CanonicalType[], chunkSize: number): AsyncGenerator<MergeStep[]> {
  const a = new SideReader(left, types)
  const b = new SideReader(right, types)
  try {
    let out: MergeStep[] = []
    let hasA = await a.fill()
    let hasB = await b.fill()
    while (hasA || hasB) {
      // Synchronous inner loop while both sides (or the only side left) have buffered rows.
      while ((hasA ? a.hasBuffered : true) && (hasB ? b.hasBuffered : true) && (hasA || hasB)) {
        if (hasA && hasB) {
          const order = a.compareTo(b)
          if (order === 0) {
            out.push({ left: a.current, right: b.current })
            a.advance()
            b.advance()
          } else if (order < 0) {
            out.push({ left: a.current })
            a.advance()
          } else {
            out.push({ right: b.current })
            b.advance()
          }
        } else if (hasA) {
          out.push({ left: a.current })
          a.advance()
        } else {
          out.push({ right: b.current })
          b.advance()
        }
        if (out.length >= chunkSize) {
          yield out
          out = []
        }
      }
      if (hasA && !a.hasBuffered) hasA = await a.fill()
      if (hasB && !b.hasBuffered) hasB = await b.fill()
    }
    if (out.length > 0) yield out
  } finally {
    await Promise.all([a.close(), b.close()])
  }
}
