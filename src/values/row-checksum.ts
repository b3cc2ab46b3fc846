/**
 * Row checksums for comparing key ranges across databases (issue 11,
 * docs/sync-semantics.md "Checksum comparison").
 *
 * A row's hash is the first 8 bytes (big-endian, unsigned) of the MD5 of
 * its fields' pieces, concatenated in field order: `~` for NULL; for text
 * and json the UTF-8 byte length of the value's checksum text, `:`, and
 * that text; for every other type (whose text never holds `|` nor starts
 * with `~`) the text and `|`.
 * A range's checksum is the row count and the sum of the row hashes mod
 * 2^64, which does not depend on the order rows are read in.
 *
 * The checksum text of a value is equal for two values exactly when
 * {@link valuesEqual} says they are equal, so equal checksums mean a row
 * merge would find nothing to change: `1.50` and `1.5` are one decimal,
 * `-0.0` and `0` one float, while a trailing space, a microsecond or NULL
 * against `''` differ. Databases compute the same text in SQL
 * (src/connectors/postgres/checksum.ts, src/connectors/mysql/checksum.ts);
 * where one cannot, its rows are hashed here after decoding, with this very
 * function.
 */
import { hash } from 'node:crypto'
import { normalizeDecimal } from './compare.js'
import type { CanonicalType, Row, Value } from './canonical.js'

/** 2^64: range sums are kept modulo this. */
export const CHECKSUM_MODULUS = 1n << 64n

const floatBytes = Buffer.alloc(8)

/**
 * The checksum text of a non-NULL value of a type.
 * @example checksumText('decimal', '1.50') // '1.5'
 * @example checksumText('float', -0) // '0'
 */
export function checksumText(type: CanonicalType, value: Exclude<Value, null>): string {
  switch (type) {
    case 'integer':
    case 'decimal':
      return normalizeDecimal(typeof value === 'boolean' ? Number(value) : value instanceof Uint8Array ? Buffer.from(value).toString('utf8') : value)
    case 'float': {
      const n = Number(value)
      if (n === 0) return '0'
      if (Number.isNaN(n)) return 'NaN'
      // The IEEE 754 bits: exact, and the same whichever way a database prints the number.
      floatBytes.writeDoubleBE(n, 0)
      return floatBytes.toString('hex')
    }
    case 'boolean':
      return value ? '1' : '0'
    case 'bytes':
      return value instanceof Uint8Array ? Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex') : Buffer.from(String(value), 'utf8').toString('hex')
    case 'timestamp':
      return timestampText(String(value))
    case 'localtimestamp': {
      // Spelled like a UTC instant, as PostgreSQL prints a `timestamp` column (checksum.ts); `infinity` stays as it is.
      const local = String(value)
      const spelled = timestampText(`${local}Z`)
      return spelled === `${local}Z` ? local : spelled
    }
    default:
      return value instanceof Uint8Array ? Buffer.from(value).toString('utf8') : String(value)
  }
}

/** Types whose checksum text may hold any character: their pieces carry a length instead of a `|` terminator. */
export const FREE_TEXT: ReadonlySet<CanonicalType> = new Set<CanonicalType>(['text', 'json', 'enum', 'array'])

/** The hash input of a row: each field's piece, in field order. */
export function checksumInput(row: Row, fields: readonly { name: string; type: CanonicalType }[]): string {
  let input = ''
  for (const field of fields) {
    const value = row[field.name]
    if (value === null || value === undefined) {
      input += '~'
      continue
    }
    const text = checksumText(field.type, value)
    input += FREE_TEXT.has(field.type) ? `${Buffer.byteLength(text, 'utf8')}:${text}` : `${text}|`
  }
  return input
}

const CANONICAL_TIMESTAMP = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)\.(\d{6})Z$/

/**
 * PostgreSQL's own text of a UTC timestamp (`2026-01-01 10:00:00.5+00`:
 * fraction without trailing zeros), which it prints much faster than
 * `to_char`; other spellings (infinity) are kept as they are.
 */
function timestampText(value: string): string {
  const match = CANONICAL_TIMESTAMP.exec(value)
  if (!match) return value
  const fraction = match[3]!.replace(/0+$/, '')
  return `${match[1]} ${match[2]}${fraction ? `.${fraction}` : ''}+00`
}

/**
 * The 64-bit hash of a row's fields (see the file comment).
 * @example rowChecksum({ id: 1, price: '1.50' }, [{ name: 'id', type: 'integer' }, { name: 'price', type: 'decimal' }])
 */
export function rowChecksum(row: Row, fields: readonly { name: string; type: CanonicalType }[]): bigint {
  return md5(checksumInput(row, fields)).readBigUInt64BE(0)
}

/** A row's hash as 16 lower-case hex digits (what {@link rowChecksum} reads as a number). */
export function rowChecksumHex(row: Row, fields: readonly { name: string; type: CanonicalType }[]): string {
  return hash('md5', checksumInput(row, fields), 'hex').slice(0, 16)
}

/** One-shot md5 of UTF-8 text: no Hash object per row (a native handle each, which a scan of millions of rows piles up). */
function md5(input: string): Buffer {
  return hash('md5', input, 'buffer') as unknown as Buffer
}

/** Sum of row hashes, kept as two 32-bit halves so adding stays in plain numbers. */
export class ChecksumSum {
  private high = 0
  private low = 0
  count = 0

  /** Add one row's hash (the first 8 bytes of its digest). */
  addDigest(digest: Buffer): void {
    const low = this.low + digest.readUInt32BE(4)
    this.low = low >>> 0
    this.high = (this.high + digest.readUInt32BE(0) + (low > 0xffffffff ? 1 : 0)) >>> 0
    this.count++
  }

  /** Add one row. */
  addRow(row: Row, fields: readonly { name: string; type: CanonicalType }[]): void {
    this.addDigest(md5(checksumInput(row, fields)))
  }

  get sum(): bigint {
    return (BigInt(this.high) << 32n) | BigInt(this.low)
  }
}

/** A database's sum of (signed or unsigned) 64-bit hashes, as decimal text, reduced mod 2^64. */
export function reduceChecksum(sum: string | bigint | number | null | undefined): bigint {
  if (sum === null || sum === undefined) return 0n
  const value = BigInt(sum)
  return ((value % CHECKSUM_MODULUS) + CHECKSUM_MODULUS) % CHECKSUM_MODULUS
}

/**
 * A 64-bit row hash as a number, for streamed pairs that are only compared
 * for equality: its top 53 bits (`h >> 11`), a safe integer, so no string or
 * bigint is kept per row.
 */
export function foldHash(hash: bigint): number {
  return Number(BigInt.asIntN(64, hash) >> 11n)
}
