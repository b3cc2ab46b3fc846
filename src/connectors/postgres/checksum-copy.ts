/**
 * A whole range's (key, hash) pairs in one binary COPY (`streamHashes`
 * without bounds or filters, the re-sync's case): the server sends pairs
 * as fast as they are read, with no page to ask for after each one and no
 * hex text to decode, and the socket's backpressure bounds memory.
 */
import { SynclineError, throwIfAborted } from '../../errors.js'
import type { KeyValues, Value } from '../../values/canonical.js'
import type { KeyHashBatch, RangeChecksumOptions } from '../connector.js'
import { rowHashSql } from './checksum.js'
import { copyOut, viewOf } from './copy-out.js'
import { quoteIdent } from './dialect.js'
import { classifyPgError } from './errors.js'
import type { PgTable } from './introspect.js'
import { foldedAt, requireIncreasing, type KeyPacking } from './key-packing.js'
import { holdClient } from './pool.js'
import { ordered, type PgContext } from './source.js'

/** Pairs a batch: what the merge compares at a time. */
const BATCH_PAIRS = 8192

/** The binary COPY header: signature, flags, then the length of an extension area. */
const HEADER_BYTES = 19

/** A tuple of an int8 key and its hash: the field count, then each field's length and 8 bytes. */
const INTEGER_TUPLE_BYTES = 2 + 12 + 12

/** Pairs of the range `condition` selects (SQL without parameters), in key order. */
export async function* copiedHashes(ctx: PgContext, table: PgTable, opts: RangeChecksumOptions, packings: KeyPacking[], condition: string): AsyncGenerator<KeyHashBatch> {
  const select = [...opts.keys.map((k, i) => packings[i]!.copied(quoteIdent(k))), rowHashSql(table, opts.fields, opts.hash)]
  const order = opts.keys.map((n) => ordered(table, n)).join(', ')
  const sql = `COPY (SELECT ${select.join(', ')} FROM ${table.sql} ${condition} ORDER BY ${order}) TO STDOUT (FORMAT binary)`
  throwIfAborted(opts.signal)
  const held = await holdClient(ctx.pool())
  const tuples = new HashTuples(packings, table.info.name)
  let last: KeyValues | undefined
  let finished = false
  try {
    for await (const chunk of copyOut(held.client, sql)) {
      throwIfAborted(opts.signal)
      for (let s = 0; s < chunk.spans.length; ) {
        s = tuples.readSpans(chunk, s, BATCH_PAIRS)
        if (tuples.size >= BATCH_PAIRS) {
          const batch = tuples.take()
          last = requireIncreasing(batch, opts.keyTypes, last, table.info.name)
          yield batch
        }
      }
    }
    finished = true
    tuples.end()
    if (tuples.size > 0) {
      const batch = tuples.take()
      requireIncreasing(batch, opts.keyTypes, last, table.info.name)
      yield batch
    }
  } catch (error) {
    throwIfAborted(opts.signal)
    throw classifyPgError(error, ctx.errorContext(table.info.name))
  } finally {
    // An unfinished COPY leaves the connection mid-protocol: copyOut destroyed it, and the pool discards it.
    held.release(!finished)
  }
}

/**
 * The binary COPY data of (key fields…, hash) tuples, read from the
 * CopyData payloads in order. PostgreSQL sends a tuple per message (the
 * header with the first); a tuple cut across messages is joined all the same.
 * A key of one integer field fills `integers` (see KeyHashBatch) until a
 * key past 2^53 turns the rest of the stream to `keys`.
 */
export class HashTuples {
  keys: Value[] = []
  hashes = new Float64Array(BATCH_PAIRS)
  integers: Float64Array | undefined
  size = 0
  #header = false
  #trailer = false
  #pending: Buffer | undefined

  constructor(
    readonly packings: readonly KeyPacking[],
    readonly entity: string,
  ) {
    if (packings.length === 1 && packings[0]!.integer) this.integers = new Float64Array(BATCH_PAIRS)
  }

  /**
   * Read the chunk's CopyData payloads from span `from` (its index in
   * `chunk.spans`) on, until the batch holds `limit` pairs; returns the
   * index of the first span not read. A payload of exactly one integer key
   * tuple (what PostgreSQL sends for each row of such a key) is read in
   * place, without the general walk over its fields.
   */
  readSpans(chunk: { bytes: Buffer; view: DataView; spans: Int32Array }, from: number, limit: number): number {
    const { view, spans } = chunk
    let s = from
    for (; s < spans.length && this.size < limit; s += 2) {
      const start = spans[s]!
      const end = spans[s + 1]!
      const integers = this.integers
      if (integers && end - start === INTEGER_TUPLE_BYTES && this.#header && !this.#pending && view.getInt16(start) === 2 && view.getInt32(start + 2) === 8 && view.getInt32(start + 14) === 8) {
        const high = view.getInt32(start + 6)
        const value = high * 0x100000000 + view.getUint32(start + 10)
        if (high >= -0x200000 && high < 0x200000 && Number.isSafeInteger(value)) {
          if (this.size === this.hashes.length) this.#grow()
          this.integers![this.size] = value
          this.hashes[this.size++] = foldedAt(view, start + 18)
          continue
        }
      }
      this.read(chunk, start, end)
    }
    return s
  }

  /** Read the tuples of the chunk's bytes from `start` to `end` (one CopyData payload). */
  read(chunk: { bytes: Buffer; view: DataView }, start: number, end: number): void {
    let { bytes, view } = chunk
    if (this.#pending) {
      bytes = Buffer.concat([this.#pending, bytes.subarray(start, end)])
      view = viewOf(bytes)
      start = 0
      end = bytes.length
      this.#pending = undefined
    }
    let at = start
    if (!this.#header) {
      if (end - at < HEADER_BYTES) {
        this.#pending = Buffer.from(bytes.subarray(at, end))
        return
      }
      at += HEADER_BYTES + view.getInt32(at + HEADER_BYTES - 4)
      this.#header = true
    }
    const fields = this.packings.length + 1
    while (at < end && !this.#trailer) {
      const next = tupleEnd(view, at, end)
      if (next === 0) {
        this.#pending = Buffer.from(bytes.subarray(at, end))
        return
      }
      if (next < 0) {
        this.#trailer = true
        return
      }
      if (view.getInt16(at) !== fields) throw this.#malformed(`a row of ${view.getInt16(at)} fields, not ${fields}`)
      if (this.size === this.hashes.length) this.#grow()
      const field = this.integers ? this.#readInteger(bytes, view, at + 2) : this.#readKeys(bytes, view, at + 2)
      if (view.getInt32(field) !== 8) throw this.#malformed('a row hash that is not 8 bytes')
      this.hashes[this.size++] = foldedAt(view, field + 4)
      at = next
    }
  }

  /** The one integer key field at `field` into `integers`; returns where the hash field starts. */
  #readInteger(bytes: Buffer, view: DataView, field: number): number {
    if (view.getInt32(field) !== 8) throw this.#malformed('an integer key that is not 8 bytes')
    const high = view.getInt32(field + 4)
    const value = high * 0x100000000 + view.getUint32(field + 8)
    if (high >= -0x200000 && high < 0x200000 && Number.isSafeInteger(value)) this.integers![this.size] = value
    else {
      // Past 2^53 a number is not exact: this and every later key go as values (a bigint here).
      this.#leaveIntegers()
      return this.#readKeys(bytes, view, field)
    }
    return field + 12
  }

  /** The key fields at `field` onto `keys`; returns where the hash field starts. */
  #readKeys(bytes: Buffer, view: DataView, field: number): number {
    for (const packing of this.packings) {
      const length = view.getInt32(field)
      packing.readCopied(bytes, view, field + 4, length, this.keys)
      field += 4 + length
    }
    return field
  }

  #leaveIntegers(): void {
    const integers = this.integers!
    this.integers = undefined
    for (let i = 0; i < this.size; i++) this.keys.push(integers[i]!)
  }

  /** More than BATCH_PAIRS tuples in the batch (several tuples a message): room for more. */
  #grow(): void {
    const grow = (array: Float64Array) => {
      const grown = new Float64Array(array.length * 2)
      grown.set(array)
      return grown
    }
    this.hashes = grow(this.hashes)
    if (this.integers) this.integers = grow(this.integers)
  }

  /** The pairs read so far, as a batch; the reader starts a new one. */
  take(): KeyHashBatch {
    const batch: KeyHashBatch = { keys: this.keys, hashes: this.hashes.subarray(0, this.size) }
    if (this.integers) {
      batch.integers = this.integers.subarray(0, this.size)
      this.integers = new Float64Array(BATCH_PAIRS)
    }
    this.keys = []
    this.hashes = new Float64Array(BATCH_PAIRS)
    this.size = 0
    return batch
  }

  /** Check the data ended where COPY ends it: with the trailer, no tuple cut short. */
  end(): void {
    if (!this.#trailer || this.#pending) throw this.#malformed('data that ended before its trailer')
  }

  #malformed(what: string): SynclineError {
    return new SynclineError('INTERNAL', 'internal', `PostgreSQL sent ${what} in the key hashes of '${this.entity}'. Set compare: rows on this sync and report it.`)
  }
}

/** Where the tuple at `at` ends: 0 when it is not all before `end`, -1 for the trailer (-1 fields). */
function tupleEnd(view: DataView, at: number, end: number): number {
  if (at + 2 > end) return 0
  const fields = view.getInt16(at)
  if (fields < 0) return -1
  let next = at + 2
  for (let f = 0; f < fields; f++) {
    if (next + 4 > end) return 0
    const length = view.getInt32(next)
    next += length > 0 ? 4 + length : 4
    if (next > end) return 0
  }
  return next
}
