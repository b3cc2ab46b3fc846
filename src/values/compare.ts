/**
 * Ordering and equality of canonical values.
 *
 * The full-sync merge walks two key-ordered streams, so it must order keys
 * exactly as the databases do: text by UTF-8 bytes (PostgreSQL `COLLATE "C"`,
 * SQLite BINARY, MySQL `utf8mb4_bin`), numbers numerically, bigints exactly.
 * JavaScript's `<` orders strings by UTF-16 code units, which differs from
 * UTF-8 byte order above U+FFFF, so text goes through {@link compareText}.
 */
import type { CanonicalType, KeyValues, Value } from './canonical.js'

/**
 * Compare two strings in UTF-8 byte order (= Unicode code point order).
 * @returns negative, zero or positive, like `Array.prototype.sort` expects.
 */
export function compareText(a: string, b: string): number {
  if (a === b) return 0
  const length = Math.min(a.length, b.length)
  for (let i = 0; i < length; i++) {
    let x = a.charCodeAt(i)
    let y = b.charCodeAt(i)
    if (x === y) continue
    // Surrogates (D800-DFFF) encode code points above FFFF, so they must sort
    // after E000-FFFF; shift them up and the BMP range above them down.
    if (x >= 0xd800 && y >= 0xd800) {
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000
    }
    return x - y
  }
  return a.length - b.length
}

/** Compare byte arrays lexicographically (memcmp order). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length)
  for (let i = 0; i < length; i++) {
    const d = a[i]! - b[i]!
    if (d !== 0) return d
  }
  return a.length - b.length
}

/** Compare integers that may be numbers or bigints, exactly. */
function compareIntegers(a: number | bigint, b: number | bigint): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b
  const x = typeof a === 'bigint' ? a : BigInt(a)
  const y = typeof b === 'bigint' ? b : BigInt(b)
  return x < y ? -1 : x > y ? 1 : 0
}

/**
 * Compare doubles without subtracting (Infinity - Infinity is NaN). NaN
 * equals NaN and sorts above every number, as PostgreSQL orders it.
 */
function compareFloats(x: number, y: number): number {
  if (Number.isNaN(x) || Number.isNaN(y)) return Number.isNaN(x) ? (Number.isNaN(y) ? 0 : 1) : -1
  return x < y ? -1 : x > y ? 1 : 0
}

/** Compare decimal strings (or numbers) numerically and exactly. */
export function compareDecimals(a: string | number | bigint, b: string | number | bigint): number {
  const [ia, fa] = splitDecimal(String(a))
  const [ib, fb] = splitDecimal(String(b))
  const scale = Math.max(fa.length, fb.length)
  const x = BigInt(ia + fa.padEnd(scale, '0'))
  const y = BigInt(ib + fb.padEnd(scale, '0'))
  return x < y ? -1 : x > y ? 1 : 0
}

/** Split `-12.340` into sign+integer digits (`-12`) and fraction digits (`34`). */
function splitDecimal(text: string): [string, string] {
  let t = text.trim()
  if (/e/i.test(t)) t = expandExponent(t)
  const negative = t.startsWith('-')
  if (negative || t.startsWith('+')) t = t.slice(1)
  const dot = t.indexOf('.')
  const intPart = (dot < 0 ? t : t.slice(0, dot)) || '0'
  const fracPart = (dot < 0 ? '' : t.slice(dot + 1)).replace(/0+$/, '')
  return [(negative ? '-' : '') + intPart, fracPart]
}

/** Expand `1.5e-7` into plain decimal notation without going through a float. */
function expandExponent(text: string): string {
  const match = /^([+-]?)(\d*)(?:\.(\d*))?[eE]([+-]?\d+)$/.exec(text)
  if (!match) return text
  const [, sign = '', int = '', frac = '', exp = '0'] = match
  const digits = int + frac
  const point = int.length + Number(exp)
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`
  if (point >= digits.length) return sign + digits + '0'.repeat(point - digits.length)
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`
}

/**
 * Normalize a decimal to its shortest exact text: no exponent, no leading
 * zeros, no trailing fraction zeros, `-0` → `0`. `"012.500"` → `"12.5"`.
 */
export function normalizeDecimal(value: string | number | bigint): string {
  const [int, frac] = splitDecimal(String(value))
  const negative = int.startsWith('-')
  const digits = (negative ? int.slice(1) : int).replace(/^0+(?=\d)/, '')
  const body = frac ? `${digits}.${frac}` : digits
  return negative && body !== '0' ? `-${body}` : body
}

/**
 * Order two values of one canonical type the way the databases order them.
 * NULL sorts first. Used for key merges and cursor comparisons.
 */
export function compareValues(type: CanonicalType, a: Value, b: Value): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? -1 : 1
  switch (type) {
    case 'integer':
      if ((typeof a === 'number' || typeof a === 'bigint') && (typeof b === 'number' || typeof b === 'bigint')) {
        return compareIntegers(a, b)
      }
      return compareDecimals(String(a), String(b))
    case 'float':
      return compareFloats(Number(a), Number(b))
    case 'decimal':
      return compareDecimals(String(a), String(b))
    case 'boolean':
      return Number(a) - Number(b)
    case 'bytes':
      return compareBytes(a as Uint8Array, b as Uint8Array)
    default:
      return compareText(String(a), String(b))
  }
}

/** Compare two composite keys field by field, with their types in key order. */
export function compareKeys(types: readonly CanonicalType[], a: KeyValues, b: KeyValues): number {
  for (let i = 0; i < types.length; i++) {
    const d = compareValues(types[i]!, a[i] ?? null, b[i] ?? null)
    if (d !== 0) return d
  }
  return 0
}

/**
 * {@link compareKeys} of two rows' keys, read in place (`aFields[i]` of `a`
 * against `bFields[i]` of `b`): no key arrays for a merge that compares
 * every row of a table.
 */
export function compareRowKeys(types: readonly CanonicalType[], a: Readonly<Record<string, Value>>, aFields: readonly string[], b: Readonly<Record<string, Value>>, bFields: readonly string[]): number {
  for (let i = 0; i < types.length; i++) {
    const d = compareValues(types[i]!, a[aFields[i]!] ?? null, b[bFields[i]!] ?? null)
    if (d !== 0) return d
  }
  return 0
}

/**
 * Whether two values mean the same thing for a field of this type. Change
 * detection uses this, so `"1.50"` equals `"1.5"` for decimals, a number
 * equals the same bigint, and bytes compare by content.
 */
export function valuesEqual(type: CanonicalType, a: Value, b: Value): boolean {
  if (a === b) return true
  if (a === null || b === null) return false
  switch (type) {
    case 'integer':
    case 'decimal':
      return compareDecimals(String(a), String(b)) === 0
    case 'float':
      return Number(a) === Number(b) || (Number.isNaN(Number(a)) && Number.isNaN(Number(b)))
    case 'bytes':
      return a instanceof Uint8Array && b instanceof Uint8Array && compareBytes(a, b) === 0
    case 'boolean':
      return Boolean(a) === Boolean(b)
    default:
      return String(a) === String(b)
  }
}
