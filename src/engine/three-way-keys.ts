/**
 * The three-way key merge of a two-way key pass: both sides' keys and the
 * base's, each in key order, merged as the hex of their order-preserving
 * encoding (src/values/sort-key.ts). Every key of the table passes here on
 * every run, so each is one string compared with `<`: no key arrays, no
 * per-key step objects, no Buffers for integer keys, and the row objects of
 * a page are dropped as soon as the page is spelled. Memory holds one page
 * per stream (and the page each scan prefetches).
 */
import { SynclineError } from '../errors.js'
import type { CanonicalType, Row } from '../values/canonical.js'
import { sortKeyHex } from '../values/sort-key.js'

/** A key-ordered stream of hex keys, read a page at a time. */
export interface HexKeyStream {
  /** The current key, or undefined when the page is used up (call {@link fill}) or the stream ended. */
  readonly current: string | undefined
  /** True while the buffered page has a key or the stream has ended. */
  readonly ready: boolean
  /** Read the next page. */
  fill(): Promise<void>
  take(): void
  close(): Promise<void>
}

/** The keys of a side's key-only scan, checked to be strictly increasing. */
export class ScanKeys implements HexKeyStream {
  private readonly iterator: AsyncIterator<Row[]>
  private page: string[] = []
  private index = 0
  private ended = false
  private last: string | undefined

  constructor(
    rows: AsyncIterable<Row[]>,
    private readonly keys: readonly string[],
    private readonly types: readonly CanonicalType[],
    /** For error messages: `source shop.Customer`. */
    private readonly label: string,
  ) {
    this.iterator = rows[Symbol.asyncIterator]()
  }

  get current(): string | undefined {
    return this.page[this.index]
  }

  get ready(): boolean {
    return this.index < this.page.length || this.ended
  }

  async fill(): Promise<void> {
    while (this.index >= this.page.length && !this.ended) {
      const next = await this.iterator.next()
      if (next.done) {
        this.ended = true
        return
      }
      this.page = this.spell(next.value)
      this.index = 0
    }
  }

  take(): void {
    this.index++
  }

  async close(): Promise<void> {
    await this.iterator.return?.()
  }

  private spell(rows: Row[]): string[] {
    const out: string[] = []
    for (const row of rows) {
      const hex = sortKeyHex(this.types, row, this.keys)
      // A key with a NULL part cannot be a base key, nor be matched across sides.
      if (hex === undefined) continue
      if (this.last !== undefined && hex <= this.last) this.outOfOrder(row, hex === this.last)
      this.last = hex
      out.push(hex)
    }
    return out
  }

  private outOfOrder(row: Row, repeated: boolean): never {
    const key = JSON.stringify(this.keys.map((k) => row[k] ?? null), (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))
    if (repeated) {
      throw new SynclineError(
        'KEY_NOT_UNIQUE',
        'config',
        `The key (${this.keys.join(', ')}) is not unique in ${this.label}: ${key} appears more than once. Choose keys that identify one row (set keys: in the plan).`,
      )
    }
    throw new SynclineError(
      'INTERNAL',
      'internal',
      `${this.label} returned key ${key} out of order: its key order differs from byte order. This usually means a case-insensitive collation or key type; please report it with the table definition.`,
    )
  }
}

/** What a key's presence in the three streams says. */
export interface KeyPresence {
  hex: string
  inSource: boolean
  inDestination: boolean
  inBase: boolean
}

/**
 * Every key not present in all three streams, in key order, in chunks of
 * up to `chunkSize`; `onCompared` hears how many keys were compared so far.
 */
export async function* keysToDecide(
  source: HexKeyStream,
  destination: HexKeyStream,
  base: HexKeyStream,
  chunkSize: number,
  onCompared: (compared: number) => void,
): AsyncGenerator<KeyPresence[]> {
  let out: KeyPresence[] = []
  let compared = 0
  try {
    for (;;) {
      if (!source.ready) await source.fill()
      if (!destination.ready) await destination.fill()
      if (!base.ready) await base.fill()
      const s = source.current
      const d = destination.current
      const b = base.current
      let min = s
      if (d !== undefined && (min === undefined || d < min)) min = d
      if (b !== undefined && (min === undefined || b < min)) min = b
      if (min === undefined) break
      const inSource = s === min
      const inDestination = d === min
      const inBase = b === min
      if (inSource) source.take()
      if (inDestination) destination.take()
      if (inBase) base.take()
      compared++
      if (!(inSource && inDestination && inBase)) out.push({ hex: min, inSource, inDestination, inBase })
      if (out.length >= chunkSize) {
        yield out
        out = []
      }
      if (compared % 10_000 === 0) onCompared(compared)
    }
    if (out.length > 0) yield out
    onCompared(compared)
  } finally {
    await Promise.all([source.close(), destination.close(), base.close()])
  }
}
