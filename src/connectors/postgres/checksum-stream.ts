/**
 * (key, hash) pairs of a whole key range, streamed in key order
 * (`Connector.streamHashes`): what the checksum descent merges when a table
 * differs. Pairs come in keyset pages of one row each: the page's pairs
 * packed by the server into one bytea (`string_agg` of each row's key bytes
 * and `int8send` of its hash), sent as hex, so a page costs one value for
 * node-postgres to read and a tight loop here, not a row object per pair. Keys other than
 * integers, uuid and text page as plain rows. Memory holds a page, never the
 * range.
 */
import { SynclineError, throwIfAborted } from '../../errors.js'
import type { CanonicalType, KeyValues, Value } from '../../values/canonical.js'
import { compareValues } from '../../values/compare.js'
import { foldHash } from '../../values/row-checksum.js'
import type { KeyHashBatch, RangeChecksumOptions } from '../connector.js'
import { columnOf } from '../sql/key-rows.js'
import { ParamList } from '../sql/sql-builder.js'
import { hashesQuery, rangeWhere, requireHash, rowHashSql } from './checksum.js'
import { quoteIdent } from './dialect.js'
import { classifyPgError } from './errors.js'
import type { PgTable } from './introspect.js'
import { ordered, type PgContext } from './source.js'

/** Pairs per page: a page arrives as hex text (node-postgres reads text results), a few hundred KB. */
const PAGE_PAIRS = 8192

/** How one key field is packed (SQL over the column) and read back (what the codec decodes its text to). */
interface KeyPacking {
  sql: (ref: string) => string
  /** Push the value at `at` onto `keys`; returns where the next field starts. */
  read: (bytes: Buffer, at: number, keys: Value[]) => number
}

const INT8: KeyPacking = {
  sql: (ref) => `int8send(${ref}::int8)`,
  read: (b, at, keys) => {
    // Two 32-bit halves: exact as a number below 2^53, else a bigint (as the codec's decodeInt8).
    const high = b.readInt32BE(at)
    const value = high * 0x100000000 + b.readUInt32BE(at + 4)
    keys.push(high >= -0x200000 && high < 0x200000 && Number.isSafeInteger(value) ? value : b.readBigInt64BE(at))
    return at + 8
  },
}

const UUID: KeyPacking = {
  sql: (ref) => `uuid_send(${ref})`,
  read: (b, at, keys) => {
    const hex = b.toString('hex', at, at + 16)
    keys.push(`${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`)
    return at + 16
  },
}

const TEXT: KeyPacking = {
  sql: (ref) => `int4send(octet_length(convert_to(${ref}, 'UTF8'))) || convert_to(${ref}, 'UTF8')`,
  read: (b, at, keys) => {
    const length = b.readInt32BE(at)
    keys.push(b.toString('utf8', at + 4, at + 4 + length))
    return at + 4 + length
  },
}

/**
 * The packing of a key field, or undefined to page as rows: NOT NULL
 * columns only (a NULL would drop the pair from `string_agg`), and text
 * only when it is ordered by its own bytes, as its packed value is then
 * what the key order compares.
 */
function packingOf(table: PgTable, name: string): KeyPacking | undefined {
  const column = columnOf(table, name)
  if (column.field.nullable) return undefined
  switch (column.baseType) {
    case 'int2':
    case 'int4':
    case 'int8':
      return INT8
    case 'uuid':
      return UUID
    case 'text':
    case 'varchar':
      return column.orderSuffix === '' || column.orderSuffix === ' COLLATE "C"' ? TEXT : undefined
    default:
      return undefined
  }
}

/** Each row's key and hash in a range, in key order, page by page. */
export async function* streamHashes(ctx: PgContext, entity: string, opts: RangeChecksumOptions): AsyncGenerator<KeyHashBatch> {
  const table = await ctx.table(entity)
  requireHash(opts.hash)
  const packings = opts.keys.map((k) => packingOf(table, k))
  if (packings.every((p) => p !== undefined)) yield* packedHashes(ctx, table, opts, packings as KeyPacking[])
  else yield* pagedHashes(ctx, table, opts)
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
  let at = 0
  while (at < bytes.length) {
    for (const packing of packings) at = packing.read(bytes, at, keys)
    // h >> 11 from the int8's halves: the number foldHash gives.
    hashes.push(bytes.readInt32BE(at) * 0x200000 + (bytes.readUInt32BE(at + 4) >>> 11))
    at += 8
  }
  return { keys, hashes: Float64Array.from(hashes) }
}

/** The batch's last key, after checking its keys increase from `previous` on. */
function requireIncreasing(batch: KeyHashBatch, types: readonly CanonicalType[], previous: KeyValues | undefined, entity: string): KeyValues {
  const width = types.length
  const keys = previous ? [...previous, ...batch.keys] : batch.keys
  // Key i against key i - 1 of the flat list, field by field, without an array per key.
  for (let i = 1; i * width < keys.length; i++) {
    let order = 0
    for (let f = 0; f < width && order === 0; f++) order = compareValues(types[f]!, keys[(i - 1) * width + f] ?? null, keys[i * width + f] ?? null)
    if (order >= 0) throw new SynclineError('INTERNAL', 'internal', `PostgreSQL returned the key hashes of '${entity}' out of key order. Set compare: rows on this sync and report it.`)
  }
  return keys.slice(keys.length - width)
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

