/**
 * Merge two key-ordered streams of (key, hash) pairs into the keys that
 * differ: on one side only, or on both with different hashes. Memory holds a
 * batch per side and one output chunk, never a table; the next batch of each
 * side is already being read while the current one is compared, so both
 * databases keep sending. Batches are columnar ({@link KeyHashBatch}): a key
 * becomes an array only when it differs.
 */
import { batchKey, type KeyHashBatch } from '../connectors/connector.js'
import type { CanonicalType, KeyValues } from '../values/canonical.js'
import { compareValues } from '../values/compare.js'

/** A key that differs, and on which sides it is. */
export interface DifferingKey {
  key: KeyValues
  left: boolean
  right: boolean
}

const EMPTY: KeyHashBatch = { keys: [], hashes: new Float64Array(0) }

/** One side's batches, with the next one asked for before the current one is used up. */
class PairReader {
  batch: KeyHashBatch = EMPTY
  at = 0
  done = false
  #next: Promise<IteratorResult<KeyHashBatch>>
  readonly #iterator: AsyncIterator<KeyHashBatch>

  constructor(
    pairs: AsyncIterable<KeyHashBatch>,
    readonly width: number,
  ) {
    this.#iterator = pairs[Symbol.asyncIterator]()
    this.#next = this.#read()
  }

  /** The next batch, read ahead; a failure comes out where it is awaited, not as an unhandled rejection. */
  #read(): Promise<IteratorResult<KeyHashBatch>> {
    const next = this.#iterator.next()
    next.catch(() => undefined)
    return next
  }

  get left(): boolean {
    return this.at < this.batch.hashes.length
  }

  key(): KeyValues {
    return batchKey(this.batch, this.at, this.width)
  }

  /** Move to the next non-empty batch, or to the end. */
  async refill(): Promise<void> {
    while (!this.done && !this.left) {
      const result = await this.#next
      if (result.done) {
        this.done = true
        this.batch = EMPTY
      } else {
        this.#next = this.#read()
        this.batch = result.value
      }
      this.at = 0
    }
  }

  async close(): Promise<void> {
    if (this.done) return
    this.done = true
    // Wait for the read in flight so the stream ends before its connection goes back.
    await this.#next.catch(() => undefined)
    await this.#iterator.return?.()
  }
}

/** Order pair `i` of `a` against pair `j` of `b`, field by field, as compareKeys does. */
function comparePairs(types: readonly CanonicalType[], a: KeyHashBatch, i: number, b: KeyHashBatch, j: number): number {
  if (a.integers || b.integers) {
    // One integer field: a plain number on the side that sends it so, a value on the other.
    const left = a.integers ? a.integers[i]! : (a.keys[i] ?? null)
    const right = b.integers ? b.integers[j]! : (b.keys[j] ?? null)
    return compareValues(types[0]!, left, right)
  }
  const width = types.length
  for (let f = 0; f < width; f++) {
    const d = compareValues(types[f]!, a.keys[i * width + f] ?? null, b.keys[j * width + f] ?? null)
    if (d !== 0) return d
  }
  return 0
}

/** The equal pairs the merge counted since the last chunk went out (differing keys go onto the chunk itself). */
interface IntegerRun {
  equal: number
}

/**
 * Merge two batches of plain-number keys (KeyHashBatch.integers) from the
 * readers' positions until either runs out or `out` holds `chunkSize`
 * keys: the common case of a table keyed by one integer, compared without
 * a call per pair.
 */
function mergeIntegers(l: PairReader, r: PairReader, out: DifferingKey[], chunkSize: number, run: IntegerRun): void {
  const a = l.batch.integers!
  const b = r.batch.integers!
  const ha = l.batch.hashes
  const hb = r.batch.hashes
  let i = l.at
  let j = r.at
  let equal = 0
  while (i < a.length && j < b.length && out.length < chunkSize) {
    const x = a[i]!
    const y = b[j]!
    if (x === y) {
      if (ha[i] === hb[j]) equal++
      else out.push({ key: [x], left: true, right: true })
      i++
      j++
    } else if (x < y) {
      out.push({ key: [x], left: true, right: false })
      i++
    } else {
      out.push({ key: [y], left: false, right: true })
      j++
    }
  }
  l.at = i
  r.at = j
  run.equal += equal
}

/**
 * The differing keys in key order, in chunks of about `chunkSize`; `onEqual`
 * gets the number of equal pairs since its last call, before each chunk and
 * at the end.
 * @example for await (const keys of differingKeyChunks(src, dst, ['integer'], 5000, (n) => (same += n))) …
 */
export async function* differingKeyChunks(
  left: AsyncIterable<KeyHashBatch>,
  right: AsyncIterable<KeyHashBatch>,
  types: readonly CanonicalType[],
  chunkSize: number,
  onEqual: (pairs: number) => void,
): AsyncGenerator<DifferingKey[]> {
  const l = new PairReader(left, types.length)
  const r = new PairReader(right, types.length)
  let out: DifferingKey[] = []
  const run: IntegerRun = { equal: 0 }
  try {
    for (;;) {
      await Promise.all([l.refill(), r.refill()])
      if (l.done && r.done) break
      // Compare synchronously until one side's batch runs out.
      while ((l.done || l.left) && (r.done || r.left) && !(l.done && r.done)) {
        if (l.left && r.left && l.batch.integers && r.batch.integers) {
          mergeIntegers(l, r, out, chunkSize, run)
        } else if (l.done) {
          out.push({ key: r.key(), left: false, right: true })
          r.at++
        } else if (r.done) {
          out.push({ key: l.key(), left: true, right: false })
          l.at++
        } else {
          const order = comparePairs(types, l.batch, l.at, r.batch, r.at)
          if (order === 0) {
            if (l.batch.hashes[l.at] === r.batch.hashes[r.at]) run.equal++
            else out.push({ key: l.key(), left: true, right: true })
            l.at++
            r.at++
          } else if (order < 0) {
            out.push({ key: l.key(), left: true, right: false })
            l.at++
          } else {
            out.push({ key: r.key(), left: false, right: true })
            r.at++
          }
        }
        if (out.length >= chunkSize) {
          onEqual(run.equal)
          run.equal = 0
          yield out
          out = []
        }
      }
    }
    onEqual(run.equal)
    if (out.length > 0) yield out
  } finally {
    await Promise.all([l.close(), r.close()])
  }
}
