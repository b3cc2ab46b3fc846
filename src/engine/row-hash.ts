/**
 * Hashes of canonical rows for two-way change detection (DESIGN §2.2, §3).
 * Values are normalised by type first, so a row read from PostgreSQL and the
 * same row read from SQLite or MariaDB hash alike: `1.50` and `1.5` are one
 * decimal, `1` and `1n` one integer, bytes hash by content.
 */
import { createHash } from 'node:crypto'
import { normalizeDecimal } from '../values/compare.js'
import type { CanonicalType, Row, Value } from '../values/canonical.js'

/** Bytes of a row hash: 128 bits, collisions negligible for any table. */
export const ROW_HASH_BYTES = 16
/** Bytes of a field hash (merge only): enough to tell a changed field, kept small per key. */
export const FIELD_HASH_BYTES = 4

/** The fields a hash covers, in a fixed order, with their types. */
export interface HashedFields {
  names: readonly string[]
  types: readonly CanonicalType[]
}

/** Text that is equal exactly when the values are equal for this type. */
function canonicalText(type: CanonicalType, value: Value): string {
  if (value === null) return ''
  switch (type) {
    case 'integer':
    case 'decimal':
      return normalizeDecimal(typeof value === 'boolean' ? Number(value) : String(value))
    case 'float': {
      const n = Number(value)
      return Object.is(n, -0) ? '0' : String(n)
    }
    case 'boolean':
      return value ? '1' : '0'
    case 'bytes':
      return value instanceof Uint8Array ? Buffer.from(value).toString('hex') : String(value)
    default:
      return String(value)
  }
}

/** Feed one value to a hash: a marker byte (null or not), then its length-prefixed text. */
function feed(hash: ReturnType<typeof createHash>, type: CanonicalType, value: Value | undefined): void {
  if (value === null || value === undefined) {
    hash.update(Buffer.from([0]))
    return
  }
  const text = Buffer.from(canonicalText(type, value), 'utf8')
  const head = Buffer.alloc(5)
  head[0] = 1
  head.writeUInt32BE(text.length, 1)
  hash.update(head)
  hash.update(text)
}

/**
 * The 16-byte hash of a row's compared fields.
 * @example rowHash({ id: 1, price: '1.50' }, fields).equals(rowHash({ id: 1, price: '1.5' }, fields)) // true
 */
export function rowHash(row: Row, fields: HashedFields): Buffer {
  const hash = createHash('sha256')
  for (let i = 0; i < fields.names.length; i++) feed(hash, fields.types[i]!, row[fields.names[i]!])
  return hash.digest().subarray(0, ROW_HASH_BYTES)
}

/** {@link FIELD_HASH_BYTES} per compared field, concatenated in field order (for field-level merges). */
export function fieldHashes(row: Row, fields: HashedFields): Buffer {
  const out = Buffer.alloc(fields.names.length * FIELD_HASH_BYTES)
  for (let i = 0; i < fields.names.length; i++) {
    const hash = createHash('sha256')
    feed(hash, fields.types[i]!, row[fields.names[i]!])
    hash.digest().copy(out, i * FIELD_HASH_BYTES, 0, FIELD_HASH_BYTES)
  }
  return out
}

/** Whether two hashes (either possibly absent) are equal; two absent ones are. */
export function sameHash(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined) return a === b
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))
}
