/**
 * A whole range's (key, hash) pairs in one binary COPY (`streamHashes`
 * without bounds or filters, the re-sync's case): the server sends pairs
 * as fast as they are read, with no page to ask for after each one and no
 * hex text to decode, and the socket's backpressure bounds memory.
 */
import copyStreams from 'pg-copy-streams'
import { throwIfAborted } from '../../errors.js'
import type { KeyValues, Value } from '../../values/canonical.js'
import type { KeyHashBatch, RangeChecksumOptions } from '../connector.js'
import { rowHashSql } from './checksum.js'
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

/** Pairs of the range `condition` selects (SQL without parameters), in key order. */
export async function* copiedHashes(ctx: PgContext, table: PgTable, opts: RangeChecksumOptions, packings: KeyPacking[], condition: string): AsyncGenerator<KeyHashBatch> {
  const select = [...opts.keys.map((k, i) => packings[i]!.copied(quoteIdent(k))), rowHashSql(table, opts.fields, opts.hash)]
  const order = opts.keys.map((n) => ordered(table, n)).join(', ')
  const sql = `COPY (SELECT ${select.join(', ')} FROM ${table.sql} ${condition} ORDER BY ${order}) TO STDOUT (FORMAT binary)`
  throwIfAborted(opts.signal)
  const held = await holdClient(ctx.pool())
  const stream = held.client.query(copyStreams.to(sql))
  let finished = false
  let last: KeyValues | undefined
  let keys: Value[] = []
  let hashes: number[] = []
  const batch = (): KeyHashBatch => {
    const out = { keys, hashes: Float64Array.from(hashes) }
    last = requireIncreasing(out, opts.keyTypes, last, table.info.name)
    keys = []
    hashes = []
    return out
  }
  try {
    let rest: Buffer | undefined
    let body = false
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      throwIfAborted(opts.signal)
      const bytes = rest ? Buffer.concat([rest, chunk]) : chunk
      let at = 0
      if (!body) {
        if (bytes.length < HEADER_BYTES) {
          rest = bytes
          continue
        }
        at = HEADER_BYTES + bytes.readInt32BE(HEADER_BYTES - 4)
        body = true
      }
      for (let end = tupleEnd(bytes, at); end > 0; end = tupleEnd(bytes, at)) {
        let field = at + 2
        for (const packing of packings) {
          const length = bytes.readInt32BE(field)
          packing.readCopied(bytes, field + 4, length, keys)
          field += 4 + length
        }
        hashes.push(foldedAt(bytes, field + 4))
        at = end
        if (hashes.length >= BATCH_PAIRS) yield batch()
      }
      // A tuple cut by the chunk's end: kept (copied, so the chunk can go) for the next one.
      rest = at < bytes.length ? Buffer.from(bytes.subarray(at)) : undefined
    }
    finished = true
    if (hashes.length > 0) yield batch()
  } catch (error) {
    throwIfAborted(opts.signal)
    throw classifyPgError(error, ctx.errorContext(table.info.name))
  } finally {
    if (!finished) {
      // An unfinished COPY leaves the connection mid-protocol: destroy it, and swallow what its end raises.
      const ignore = () => undefined
      stream.on('error', ignore)
      held.client.on('error', ignore)
      stream.destroy()
    }
    held.release(!finished)
  }
}

/** Where the tuple at `at` ends, or 0 when it is not all in `bytes` (or is the trailer, -1 fields). */
function tupleEnd(bytes: Buffer, at: number): number {
  if (at + 2 > bytes.length) return 0
  const fields = bytes.readInt16BE(at)
  if (fields < 0) return 0
  let end = at + 2
  for (let f = 0; f < fields; f++) {
    if (end + 4 > bytes.length) return 0
    end += 4 + Math.max(0, bytes.readInt32BE(end))
    if (end > bytes.length) return 0
  }
  return end
}
