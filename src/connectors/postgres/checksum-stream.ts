/**
 * (key, hash) pairs of a key range, streamed in key order
 * (`Connector.streamHashes`): what the checksum descent merges when a table
 * differs. A range without bounds or filters comes in one binary COPY
 * (checksum-copy.ts). Otherwise pairs come in keyset pages of one row each:
 * the page's pairs packed by the server into one bytea (`string_agg` of each
 * row's key bytes and `int8send` of its hash), sent as hex, so a page costs
 * one value for node-postgres to read and a tight loop here, not a row
 * object per pair. Keys other than integers, uuid and text page as plain
 * rows. Memory holds a page, never the range.
 */
import { throwIfAborted } from '../../errors.js'
import type { KeyValues, Value } from '../../values/canonical.js'
import { foldHash } from '../../values/row-checksum.js'
import type { KeyHashBatch, RangeChecksumOptions } from '../connector.js'
import { ParamList } from '../sql/sql-builder.js'
import { hashesQuery, rangeWhere, requireHash, rowHashSql } from './checksum.js'
import { quoteIdent } from './dialect.js'
import { classifyPgError } from './errors.js'
import type { PgTable } from './introspect.js'
import { copiedHashes } from './checksum-copy.js'
import { viewOf } from './copy-out.js'
import { foldedAt, packingOf, requireIncreasing, type KeyPacking } from './key-packing.js'
import { ordered, type PgContext } from './source.js'

/** Pairs per page: a page arrives as hex text (node-postgres reads text results), a few hundred KB. */
const PAGE_PAIRS = 8192

/** Each row's key and hash in a range, in key order, page by page. */
export async function* streamHashes(ctx: PgContext, entity: string, opts: RangeChecksumOptions): AsyncGenerator<KeyHashBatch> {
  const table = await ctx.table(entity)
  requireHash(opts.hash)
  const packings = opts.keys.map((k) => packingOf(table, k))
  if (!packings.every((p) => p !== undefined)) {
    yield* pagedHashes(ctx, table, opts)
    return
  }
  const params = new ParamList(table.dialect)
  const condition = rangeWhere(table, opts, opts.range, params)
  // One COPY streams the range at once, but takes no parameters: ranges with bounds or filters page instead.
  if (params.values.length === 0) yield* copiedHashes(ctx, table, opts, packings as KeyPacking[], condition)
  else yield* packedHashes(ctx, table, opts, packings as KeyPacking[])
}

async function* packedHashes(ctx: PgContext, table: PgTable, opts: RangeChecksumOptions, packings: KeyPacking[]): AsyncGenerator<KeyHashBatch> {
  const pieces = [...opts.keys.map((k, i) => packings[i]!.sql(quoteIdent(k))), `int8send(${rowHashSql(table, opts.fields, opts.hash)})`]
  const order = opts.keys.map((n) => ordered(table, n)).join(', ')
  let after = opts.range.after
  let last: KeyValues | undefined
  let scratch = Buffer.allocUnsafe(0)
  for (;;) {
    throwIfAborted(opts.signal)
    const params = new ParamList(table.dialect)
    const range = { ...opts.range, ...(after ? { after } : {}) }
    // The aggregate reads the sorted subquery in its order (checked below, as the order is not promised).
    const inner = `SELECT ${pieces.join(' || ')} AS syncline_pair FROM ${table.sql} ${rangeWhere(table, opts, range, params)} ORDER BY ${order} LIMIT ${params.add(PAGE_PAIRS)}`
    // Hex text, decoded into one buffer reused page after page: a new Buffer a page would pile up
    // outside the JavaScript heap (tens of MB) before the collector looks at them.
    const sql = `SELECT encode(string_agg(syncline_pair, ''::bytea), 'hex') AS pairs FROM (${inner}) AS s`
    let hex: string | null
    try {
      hex = (await ctx.pool().query<{ pairs: string | null }>(sql, params.values)).rows[0]?.pairs ?? null
    } catch (error) {
      throw classifyPgError(error, ctx.errorContext(table.info.name))
    }
    if (hex === null) return
    const size = hex.length / 2
    if (scratch.length < size) scratch = Buffer.allocUnsafe(size)
    scratch.write(hex, 0, size, 'hex')
    const batch = unpack(scratch.subarray(0, size), packings)
    last = requireIncreasing(batch, opts.keyTypes, last, table.info.name)
    yield batch
    if (batch.hashes.length < PAGE_PAIRS) return
    after = last
  }
}

/** A page's packed pairs as a columnar batch. */
function unpack(bytes: Buffer, packings: KeyPacking[]): KeyHashBatch {
  const keys: Value[] = []
  const hashes: number[] = []
  const view = viewOf(bytes)
  let at = 0
  while (at < bytes.length) {
    for (const packing of packings) at = packing.read(bytes, view, at, keys)
    hashes.push(foldedAt(view, at))
    at += 8
  }
  return { keys, hashes: Float64Array.from(hashes) }
}

/** Keyset pages of plain rows, for keys that are not packed (other types, nullable columns). */
async function* pagedHashes(ctx: PgContext, table: PgTable, opts: RangeChecksumOptions): AsyncGenerator<KeyHashBatch> {
  const width = opts.keys.length
  let after = opts.range.after
  for (;;) {
    throwIfAborted(opts.signal)
    const params = new ParamList(table.dialect)
    const range = { ...opts.range, ...(after ? { after } : {}) }
    const sql = `${hashesQuery(table, opts, range, params, 'int8')} LIMIT ${params.add(PAGE_PAIRS)}`
    let rows: unknown[][]
    try {
      rows = (await ctx.pool().query<unknown[]>({ text: sql, values: params.values, rowMode: 'array' })).rows
    } catch (error) {
      throw classifyPgError(error, ctx.errorContext(table.info.name))
    }
    if (rows.length > 0) {
      const keys: Value[] = []
      const hashes = new Float64Array(rows.length)
      rows.forEach((row, i) => {
        for (let k = 0; k < width; k++) keys.push(row[k] as Value)
        hashes[i] = foldHash(BigInt(row[width] as number | bigint))
      })
      yield { keys, hashes }
    }
    if (rows.length < PAGE_PAIRS) return
    after = rows[rows.length - 1]!.slice(0, width) as Value[]
  }
}

