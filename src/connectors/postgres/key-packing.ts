/**
 * How streamed (key, hash) pairs carry their keys: each key field packed
 * in bytes the server writes and a tight loop here reads back (what the
 * codec decodes its text to), and the checks every streamed batch passes.
 */
import { SynclineError } from '../../errors.js'
import type { CanonicalType, KeyValues, Value } from '../../values/canonical.js'
import { compareValues } from '../../values/compare.js'
import type { KeyHashBatch } from '../connector.js'
import { columnOf } from '../sql/key-rows.js'
import type { PgTable } from './introspect.js'

/** How one key field is packed (SQL over the column) and read back (what the codec decodes its text to). */
export interface KeyPacking {
  sql: (ref: string) => string
  /** Push the value at `at` onto `keys` (`view` over the same bytes); returns where the next field starts. */
  read: (bytes: Buffer, view: DataView, at: number, keys: Value[]) => number
  /** The field as a binary COPY sends it (its bytes without a length). */
  copied: (ref: string) => string
  /** Push the COPY field of `length` bytes at `at` onto `keys` (`view` over the same bytes). */
  readCopied: (bytes: Buffer, view: DataView, at: number, length: number, keys: Value[]) => void
  /** Set for an integer sent as 8 bytes (int8), which a binary COPY's reader may keep as a plain number. */
  integer?: true
}

const INT8: KeyPacking = {
  sql: (ref) => `int8send(${ref}::int8)`,
  read: (_bytes, view, at, keys) => {
    // Two 32-bit halves: exact as a number below 2^53, else a bigint (as the codec's decodeInt8).
    const high = view.getInt32(at)
    const value = high * 0x100000000 + view.getUint32(at + 4)
    keys.push(high >= -0x200000 && high < 0x200000 && Number.isSafeInteger(value) ? value : view.getBigInt64(at))
    return at + 8
  },
  copied: (ref) => `${ref}::int8`,
  readCopied: (bytes, view, at, _length, keys) => void INT8.read(bytes, view, at, keys),
  integer: true,
}

const UUID: KeyPacking = {
  sql: (ref) => `uuid_send(${ref})`,
  read: (b, _view, at, keys) => {
    const hex = b.toString('hex', at, at + 16)
    keys.push(`${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`)
    return at + 16
  },
  copied: (ref) => ref,
  readCopied: (bytes, view, at, _length, keys) => void UUID.read(bytes, view, at, keys),
}

const TEXT: KeyPacking = {
  sql: (ref) => `int4send(octet_length(convert_to(${ref}, 'UTF8'))) || convert_to(${ref}, 'UTF8')`,
  read: (b, view, at, keys) => {
    const length = view.getInt32(at)
    keys.push(b.toString('utf8', at + 4, at + 4 + length))
    return at + 4 + length
  },
  copied: (ref) => `convert_to(${ref}, 'UTF8')`,
  readCopied: (bytes, _view, at, length, keys) => void keys.push(bytes.toString('utf8', at, at + length)),
}

/**
 * The packing of a key field, or undefined to page as rows: NOT NULL
 * columns only (a NULL would drop the pair from `string_agg`), and text
 * only when it is ordered by its own bytes, as its packed value is then
 * what the key order compares.
 */
export function packingOf(table: PgTable, name: string): KeyPacking | undefined {
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

/** The hash of an int8 at `at`, as foldHash gives it: h >> 11 from its halves. */
export function foldedAt(view: DataView, at: number): number {
  return view.getInt32(at) * 0x200000 + (view.getUint32(at + 4) >>> 11)
}

/** The batch's last key, after checking its keys increase from `previous` on. */
export function requireIncreasing(batch: KeyHashBatch, types: readonly CanonicalType[], previous: KeyValues | undefined, entity: string): KeyValues {
  if (batch.integers) return requireIncreasingIntegers(batch.integers, types, previous, entity)
  const width = types.length
  const keys = batch.keys
  const count = keys.length / width
  // Key i against key i - 1 of the flat list (the previous batch's last key before the first), field by
  // field, without an array per key or a copy of the batch.
  for (let i = previous ? 0 : 1; i < count; i++) {
    let order = 0
    for (let f = 0; f < width && order === 0; f++) {
      const before = i === 0 ? previous![f] : keys[(i - 1) * width + f]
      order = compareValues(types[f]!, before ?? null, keys[i * width + f] ?? null)
    }
    if (order >= 0) throw outOfOrder(entity)
  }
  return count > 0 ? keys.slice(keys.length - width) : (previous ?? [])
}

/** {@link requireIncreasing} over a batch's plain-number keys (see KeyHashBatch.integers). */
function requireIncreasingIntegers(integers: Float64Array, types: readonly CanonicalType[], previous: KeyValues | undefined, entity: string): KeyValues {
  if (integers.length === 0) return previous ?? []
  // The previous batch's last key may be a bigint (past 2^53): compared as values once.
  if (previous && compareValues(types[0]!, previous[0] ?? null, integers[0]!) >= 0) throw outOfOrder(entity)
  for (let i = 1; i < integers.length; i++) if (!(integers[i - 1]! < integers[i]!)) throw outOfOrder(entity)
  return [integers[integers.length - 1]!]
}

function outOfOrder(entity: string): SynclineError {
  return new SynclineError('INTERNAL', 'internal', `PostgreSQL returned the key hashes of '${entity}' out of key order. Set compare: rows on this sync and report it.`)
}
