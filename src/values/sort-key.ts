/**
 * An order-preserving byte encoding of canonical keys: for keys of the same
 * types, comparing the encodings byte by byte (SQLite's BLOB order,
 * `memcmp`) gives the order of {@link compareKeys}. A store that can only
 * sort bytes (a delivery ledger in SQLite) can then page through keys in
 * the order the engine merges them, without loading them all.
 */
import type { CanonicalType, KeyValues, Value } from './canonical.js'

/** Key types with an encoding; others (decimal, float) have none yet. */
const ENCODABLE = new Set<CanonicalType>(['integer', 'boolean', 'bytes', 'text', 'uuid', 'date', 'time', 'timestamp', 'json'])

/** Whether {@link sortKey} can encode keys of these types. */
export function sortKeyEncodable(types: readonly CanonicalType[]): boolean {
  return types.every((t) => ENCODABLE.has(t))
}

/**
 * The encoding of one key, or undefined when a value cannot be encoded
 * (a NULL, a non-integral integer, a type without an encoding).
 * @example sortKey(['integer'], [-1]).compare(sortKey(['integer'], [2])!) // < 0
 */
export function sortKey(types: readonly CanonicalType[], key: KeyValues): Buffer | undefined {
  const parts: Buffer[] = []
  for (let i = 0; i < types.length; i++) {
    const part = encodeValue(types[i]!, key[i] ?? null)
    if (part === undefined) return undefined
    parts.push(part)
  }
  return parts.length === 1 ? parts[0] : Buffer.concat(parts)
}

/**
 * {@link sortKey} as lowercase hex, read from a row's key fields. Hex text
 * sorts like the bytes it spells, so a merge can compare plain strings; a
 * key of one non-negative safe integer (the common case, once per key of a
 * table in a two-way key pass) is spelled without a Buffer.
 * @example sortKeyHex(['integer'], { id: 255 }, ['id']) // '81ff'
 */
export function sortKeyHex(types: readonly CanonicalType[], row: Readonly<Record<string, Value>>, fields: readonly string[]): string | undefined {
  if (types.length === 1 && types[0] === 'integer') {
    const value = row[fields[0]!]
    if (typeof value === 'number' && value >= 0 && Number.isSafeInteger(value)) {
      if (value === 0) return '80'
      const digits = value.toString(16)
      const length = (digits.length + 1) >> 1
      return (0x80 + length).toString(16) + (digits.length & 1 ? '0' + digits : digits)
    }
  }
  const key: Value[] = new Array(fields.length)
  for (let i = 0; i < fields.length; i++) key[i] = row[fields[i]!] ?? null
  return sortKey(types, key)?.toString('hex')
}

function encodeValue(type: CanonicalType, value: Value): Buffer | undefined {
  if (value === null || !ENCODABLE.has(type)) return undefined
  if (type === 'integer') return typeof value === 'number' || typeof value === 'bigint' ? encodeInteger(value) : undefined
  if (type === 'boolean') return Buffer.from([value ? 1 : 0])
  if (type === 'bytes') return value instanceof Uint8Array ? terminated(Buffer.from(value)) : undefined
  // Every other type compares as text, by UTF-8 bytes.
  return terminated(Buffer.from(String(value), 'utf8'))
}

/**
 * A prefix byte that orders by sign and magnitude length (0x80 + length for
 * n ≥ 0, 0x80 − length for n < 0), then the big-endian magnitude, inverted
 * for negatives so a larger magnitude sorts first.
 */
function encodeInteger(value: number | bigint): Buffer | undefined {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) return undefined
    // Every key of a table is encoded in a two-way key pass: no BigInt for the common case.
    return encodeSafeInteger(value)
  }
  const n = BigInt(value)
  const negative = n < 0n
  let magnitude = negative ? -n : n
  const bytes: number[] = []
  while (magnitude > 0n) {
    bytes.unshift(Number(magnitude & 0xffn))
    magnitude >>= 8n
  }
  // 127 magnitude bytes cover integers far beyond any database's.
  if (bytes.length > 127) return undefined
  if (!negative) return Buffer.from([0x80 + bytes.length, ...bytes])
  return Buffer.from([0x80 - bytes.length, ...bytes.map((b) => 0xff - b)])
}

/** {@link encodeInteger} for a safe integer, with plain arithmetic (same bytes). */
function encodeSafeInteger(n: number): Buffer {
  const negative = n < 0
  let magnitude = Math.abs(n)
  const bytes: number[] = []
  while (magnitude > 0) {
    bytes.push(magnitude % 256)
    magnitude = Math.floor(magnitude / 256)
  }
  const out = Buffer.allocUnsafe(bytes.length + 1)
  out[0] = negative ? 0x80 - bytes.length : 0x80 + bytes.length
  for (let i = 0; i < bytes.length; i++) out[i + 1] = negative ? 0xff - bytes[bytes.length - 1 - i]! : bytes[bytes.length - 1 - i]!
  return out
}

/**
 * Bytes that keep their order inside a composite key: 0x00 becomes
 * 0x00 0xFF and the value ends with 0x00 0x00, so a shorter value sorts
 * before any longer one it is a prefix of, whatever follows it.
 */
function terminated(bytes: Buffer): Buffer {
  const out: number[] = []
  for (const b of bytes) {
    out.push(b)
    if (b === 0) out.push(0xff)
  }
  out.push(0, 0)
  return Buffer.from(out)
}

/**
 * The key a {@link sortKey} encoding came from, for keys of these types
 * (integers within ±2^53 come back as numbers, larger ones as bigints).
 * A store that keeps only the encoding (two-way base hashes) can then name
 * and look up the row again.
 * @example decodeSortKey(['integer', 'text'], sortKey(['integer', 'text'], [7, 'a'])!) // [7, 'a']
 */
export function decodeSortKey(types: readonly CanonicalType[], encoded: Uint8Array): KeyValues {
  const out: KeyValues = []
  let at = 0
  for (const type of types) {
    if (type === 'boolean') {
      out.push(encoded[at++] === 1)
      continue
    }
    if (type === 'integer') {
      const prefix = encoded[at++]!
      const negative = prefix < 0x80
      const length = negative ? 0x80 - prefix : prefix - 0x80
      let magnitude = 0n
      for (let i = 0; i < length; i++) magnitude = (magnitude << 8n) | BigInt(negative ? 0xff - encoded[at + i]! : encoded[at + i]!)
      at += length
      const n = negative ? -magnitude : magnitude
      out.push(n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n)
      continue
    }
    const bytes: number[] = []
    for (;;) {
      const b = encoded[at++]!
      if (b !== 0) {
        bytes.push(b)
        continue
      }
      // 0x00 0xFF is an escaped zero byte; 0x00 0x00 ends the value.
      if (encoded[at++] === 0xff) bytes.push(0)
      else break
    }
    out.push(type === 'bytes' ? Uint8Array.from(bytes) : Buffer.from(bytes).toString('utf8'))
  }
  return out
}
