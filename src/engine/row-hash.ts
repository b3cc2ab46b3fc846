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

/** One value as hash input: `~` for NULL, else its length, `:`, its canonical text (so no two rows run together). */
function piece(type: CanonicalType, value: Value | undefined): string {
  if (value === null || value === undefined) return '~'
  const text = canonicalText(type, value)
  return `${text.length}:${text}`
}

/**
 * The 16-byte hash of a row's compared fields.
 * @example rowHash({ id: 1, price: '1.50' }, fields).equals(rowHash({ id: 1, price: '1.5' }, fields)) // true
 */
export function rowHash(row: Row, fields: HashedFields): Buffer {
  let input = ''
  for (let i = 0; i < fields.names.length; i++) input += piece(fields.types[i]!, row[fields.names[i]!])
  return createHash('sha256').update(input, 'utf8').digest().subarray(0, ROW_HASH_BYTES)
}

/** {@link FIELD_HASH_BYTES} per compared field, concatenated in field order (for field-level merges). */
export function fieldHashes(row: Row, fields: HashedFields): Buffer {
  const out = Buffer.alloc(fields.names.length * FIELD_HASH_BYTES)
  for (let i = 0; i < fields.names.length; i++) {
    createHash('sha256').update(piece(fields.types[i]!, row[fields.names[i]!]), 'utf8').digest().copy(out, i * FIELD_HASH_BYTES, 0, FIELD_HASH_BYTES)
  }
  return out
}

/** Whether two hashes (either possibly absent) are equal; two absent ones are. */
export function sameHash(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined) return a === b
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))
}
