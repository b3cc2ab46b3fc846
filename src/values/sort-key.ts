/**
 * An order-preserving byte encoding of canonical keys: for keys of the same
 * types, comparing the encodings byte by byte (SQLite's BLOB order,
 * `memcmp`) gives the order of {@link compareKeys}. A store that can only
 * sort bytes (a delivery ledger in SQLite) can then page through keys in
 * the order the engine merges them, without loading them all.
 */
import type { CanonicalType, KeyValues, Value } from './canonical.js'
import { normalizeDecimal } from './compare.js'

/** Key types with an encoding. */
const ENCODABLE = new Set<CanonicalType>(['integer', 'decimal', 'float', 'boolean', 'bytes', 'text', 'uuid', 'date', 'time', 'timestamp', 'localtimestamp', 'json'])

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
  if (type === 'decimal') return typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint' ? encodeDecimal(value) : undefined
  if (type === 'float') return typeof value === 'number' ? encodeFloat(value) : undefined
  if (type === 'bytes') return value instanceof Uint8Array ? terminated(Buffer.from(value)) : undefined
  // Every other type compares as text, by UTF-8 bytes.
  return terminated(Buffer.from(String(value), 'utf8'))
}

/**
 * A decimal by value, whatever its scale (`1.50` and `1.5` are one key):
 * a sign byte (0x01 negative, 0x02 zero, 0x03 positive), then for
 * 0.d1d2… × 10^e (d1 ≠ 0) the exponent e as an {@link encodeInteger} and
 * the digits as bytes 0x01-0x0A ending in 0x00, every byte inverted for a
 * negative value (a larger magnitude sorts first). The digit string ends in
 * a byte below every digit, so `0.5` sorts before `0.51`.
 */
function encodeDecimal(value: string | number | bigint): Buffer | undefined {
  let text: string
  try {
    text = normalizeDecimal(value)
  } catch {
    return undefined
  }
  if (!/^-?\d+(\.\d+)?$/.test(text)) return undefined
  if (text === '0') return Buffer.from([0x02])
  const negative = text.startsWith('-')
  const [int = '', frac = ''] = (negative ? text.slice(1) : text).split('.')
  let digits = int === '0' ? frac : int + frac
  // 0.00123: the exponent counts the zeros after the point, negatively.
  const exponent = int === '0' ? -(digits.length - digits.replace(/^0+/, '').length) : int.length
  digits = digits.replace(/^0+/, '').replace(/0+$/, '')
  const body = [...encodeSafeInteger(exponent), ...Array.from(digits, (d) => d.charCodeAt(0) - 0x2f), 0]
  return Buffer.from([negative ? 0x01 : 0x03, ...(negative ? body.map((b) => 0xff - b) : body)])
}

/**
 * A float as its 8 IEEE-754 bytes, big-endian, the sign bit flipped for
 * positives and every bit flipped for negatives, so bytes order as numbers.
 * -0 is 0 (they compare equal); NaN is one value and sorts after +Infinity,
 * as PostgreSQL orders it and {@link compareValues} does.
 */
function encodeFloat(value: number): Buffer {
  const out = Buffer.allocUnsafe(8)
  out.writeDoubleBE(Number.isNaN(value) ? Number.NaN : value === 0 ? 0 : value)
  if (out[0]! & 0x80) for (let i = 0; i < 8; i++) out[i] = 0xff - out[i]!
  else out[0] = out[0]! | 0x80
  return out
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
      const [n, next] = decodeInteger(encoded, at, false)
      at = next
      out.push(n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n)
      continue
    }
    if (type === 'float') {
      const bytes = Buffer.from(encoded.subarray(at, at + 8))
      at += 8
      if (bytes[0]! & 0x80) bytes[0] = bytes[0]! & 0x7f
      else for (let i = 0; i < 8; i++) bytes[i] = 0xff - bytes[i]!
      out.push(bytes.readDoubleBE(0))
      continue
    }
    if (type === 'decimal') {
      const sign = encoded[at++]!
      if (sign === 0x02) {
        out.push('0')
        continue
      }
      const negative = sign === 0x01
      const [exponent, next] = decodeInteger(encoded, at, negative)
      at = next
      let digits = ''
      for (let b = byteAt(encoded, at++, negative); b !== 0; b = byteAt(encoded, at++, negative)) digits += String(b - 1)
      out.push((negative ? '-' : '') + placePoint(digits, Number(exponent)))
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

function byteAt(encoded: Uint8Array, at: number, inverted: boolean): number {
  return inverted ? 0xff - encoded[at]! : encoded[at]!
}

/** An {@link encodeInteger} at `at` (its bytes inverted when `inverted`), and the offset after it. */
function decodeInteger(encoded: Uint8Array, at: number, inverted: boolean): [bigint, number] {
  const prefix = byteAt(encoded, at++, inverted)
  const negative = prefix < 0x80
  const length = negative ? 0x80 - prefix : prefix - 0x80
  let magnitude = 0n
  for (let i = 0; i < length; i++) {
    const b = byteAt(encoded, at + i, inverted)
    magnitude = (magnitude << 8n) | BigInt(negative ? 0xff - b : b)
  }
  return [negative ? -magnitude : magnitude, at + length]
}

/** `0.digits × 10^exponent` as plain decimal text: ('15', 1) → '1.5', ('5', -2) → '0.005'. */
function placePoint(digits: string, exponent: number): string {
  if (exponent <= 0) return `0.${'0'.repeat(-exponent)}${digits}`
  if (exponent >= digits.length) return digits + '0'.repeat(exponent - digits.length)
  return `${digits.slice(0, exponent)}.${digits.slice(exponent)}`
}
