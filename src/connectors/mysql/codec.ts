/**
 * MySQL/MariaDB values to canonical values and back (src/values/canonical.ts).
 *
 * Rows arrive in the text protocol (scans) or the binary one (lookups),
 * with the pool's options (pool.ts): int64 as a number when safe and as
 * text beyond, DECIMAL as text, DATE/TIME as text, JSON as text. Columns
 * are read through expressions where the driver's form would lose
 * something (introspect.ts): DATETIME/TIMESTAMP formatted canonically by
 * the server, FLOAT widened to DOUBLE (the text protocol prints 6 digits).
 * The decoders below accept either protocol's form and never go through a
 * JavaScript Date, so microseconds and years outside 1970-2038 survive.
 * Sessions run with `time_zone = '+00:00'`, so TIMESTAMP reads in UTC; a
 * DATETIME has no zone and is read as UTC.
 *
 * Parameters compared with columns are typed where MySQL would otherwise
 * compare through a double (integers as BIGINT, decimals as DECIMAL);
 * written values are not, and the column's type converts them.
 */
import mysql, { type ExecuteValues } from 'mysql2'
import { arrayElements, canonicalArray } from '../../values/array.js'
import { canonicalJson } from '../../values/json.js'
import { parseTimestamp } from '../../values/temporal.js'
import type { FieldInfo, Value } from '../../values/canonical.js'

/** A statement parameter as mysql2 takes it. */
export type Param = ExecuteValues

// mysql2 defines TypedParameter with a getter, which ESM named imports cannot see.
const TYPED = mysql.TypedParameter

const INT64_MAX = 2n ** 63n - 1n

/** A value the canonical model cannot take as it is (a TIME of 30 hours, a zero date). */
export class DecodeProblem extends Error {}

/** Decode one value of a column; `null` stays `null` and is never passed in. */
export type Decoder = (value: unknown) => Value

/**
 * int64 (a number when safe, text beyond) → number or bigint, exactly.
 * @example decodeInt64('18446744073709551615') // 18446744073709551615n
 */
export function decodeInt64(value: unknown): number | bigint {
  if (typeof value === 'number') return value
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value
  const text = String(value)
  const n = Number(text)
  return Number.isSafeInteger(n) ? n : BigInt(text)
}

/**
 * FLOAT (single precision, widened to a double by the driver) → the double
 * nearest the shortest decimal that names the same float32, so a FLOAT
 * holding 0.1 reads back as 0.1 (not 0.10000000149011612) and compares equal
 * to the value written.
 */
export function decodeFloat32(value: unknown): number {
  const single = Math.fround(Number(value))
  if (!Number.isFinite(single) || single === 0) return single
  for (let digits = 1; digits <= 9; digits++) {
    const candidate = Number(single.toPrecision(digits))
    if (Math.fround(candidate) === single) return candidate
  }
  return single
}

/** BIT(n) bytes, big-endian, as an unsigned integer. */
export function decodeBits(value: unknown): number | bigint {
  const bytes = value as Uint8Array
  let n = 0n
  for (const byte of bytes) n = (n << 8n) | BigInt(byte)
  return Number.isSafeInteger(Number(n)) ? Number(n) : n
}

const DATETIME_TEXT = /^(\d{4})-(\d\d)-(\d\d)(?: (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?)?$/

/**
 * DATETIME / TIMESTAMP text (`2026-11-21 10:00:00.123456`, UTC) →
 * canonical `2026-11-21T10:00:00.123456Z`. Zero dates and dates with a zero
 * month or day (stored before NO_ZERO_DATE was set) are not instants: they
 * are a {@link DecodeProblem}, never a made-up date.
 */
export function decodeDateTime(value: unknown): string {
  const text = typeof value === 'string' ? value : String(value)
  // Fast path for what the server sends (DATETIME(6) in the text protocol):
  // a scan decodes one per row, and the regular expression costs 1-2 µs.
  if (text.length === 26 && text.charCodeAt(10) === 32 && text.charCodeAt(19) === 46 && validMonthDay(text)) {
    return `${text.slice(0, 10)}T${text.slice(11)}Z`
  }
  if (text.length === 19 && text.charCodeAt(10) === 32 && validMonthDay(text)) return `${text.slice(0, 10)}T${text.slice(11)}.000000Z`
  const match = DATETIME_TEXT.exec(text)
  if (!match || match[2] === '00' || match[3] === '00') throw new DecodeProblem(`'${text}' is not a valid date and time (a zero date or a zero month/day)`)
  const [, y, mo, d, h = '00', mi = '00', s = '00', fraction = ''] = match
  return `${y}-${mo}-${d}T${h}:${mi}:${s}.${fraction.padEnd(6, '0')}Z`
}

/** `YYYY-MM-DD…` with a month and a day that are not 00 (MySQL's zero dates). */
function validMonthDay(text: string): boolean {
  return text.charCodeAt(4) === 45 && text.charCodeAt(7) === 45 && !(text.charCodeAt(5) === 48 && text.charCodeAt(6) === 48) && !(text.charCodeAt(8) === 48 && text.charCodeAt(9) === 48)
}

/**
 * A timestamp the server already formatted canonically (the SELECT reads
 * DATETIME and TIMESTAMP columns through `DATE_FORMAT(col, '%Y-%m-%dT%H:%i:%s.%fZ')`,
 * see introspect.ts): checked, not rebuilt, so a scan allocates nothing
 * for it. Anything else goes through {@link decodeDateTime}.
 */
export function decodeTimestamp(value: unknown): string {
  const text = typeof value === 'string' ? value : String(value)
  if (text.length === 27 && text.charCodeAt(10) === 84 && text.charCodeAt(26) === 90 && validMonthDay(text)) return text
  return decodeDateTime(text)
}

/**
 * A DATETIME read as a local timestamp: the server formats it canonically
 * without the `Z` (see introspect.ts), anything else goes through
 * {@link decodeDateTime} (binlog values), minus the zone it adds.
 */
export function decodeLocalTimestamp(value: unknown): string {
  const text = typeof value === 'string' ? value : String(value)
  if (text.length === 26 && text.charCodeAt(10) === 84 && validMonthDay(text)) return text
  return decodeDateTime(text).slice(0, -1)
}

/** DATE text → canonical `YYYY-MM-DD`; zero dates are a {@link DecodeProblem}. */
export function decodeDate(value: unknown): string {
  const text = String(value)
  if (!/^\d{4}-(?!00)\d\d-(?!00)\d\d$/.test(text)) throw new DecodeProblem(`'${text}' is not a valid date (a zero date or a zero month/day)`)
  return text
}

const TIME_TEXT = /^(-?)(\d+):(\d\d):(\d\d)(?:\.(\d{1,6}))?$/

/**
 * TIME text → canonical `HH:MM:SS[.ffffff]`. MySQL's TIME is a duration
 * (-838:59:59 to 838:59:59); the canonical time is a time of day, so a
 * negative value or one beyond 24:00:00 is a {@link DecodeProblem} rather
 * than a value wrapped around midnight.
 */
export function decodeTime(value: unknown): string {
  const text = String(value)
  const match = TIME_TEXT.exec(text)
  if (!match) throw new DecodeProblem(`'${text}' is not a time`)
  const [, sign, h, m, s, fraction = ''] = match
  const hours = Number(h)
  const micros = Number(fraction.padEnd(6, '0'))
  const negative = sign === '-' && (hours > 0 || m !== '00' || s !== '00' || micros > 0)
  if (negative || hours > 24 || (hours === 24 && (m !== '00' || s !== '00' || micros > 0))) {
    throw new DecodeProblem(`TIME '${text}' is a duration outside 00:00:00-24:00:00, which a time of day cannot hold`)
  }
  const base = `${String(hours).padStart(2, '0')}:${m}:${s}`
  return micros === 0 ? base : `${base}.${String(micros).padStart(6, '0')}`
}

/** JSON text → canonical JSON (keys sorted, no insignificant space). */
export function decodeJson(value: unknown): string {
  const text = Buffer.isBuffer(value) ? value.toString('utf8') : String(value)
  try {
    return canonicalJson(text)
  } catch (error) {
    throw new DecodeProblem(`not valid JSON (${(error as Error).message})`)
  }
}

/** A text value that arrived as bytes (a binary-collated string type) → text. */
function text(value: unknown): string {
  return Buffer.isBuffer(value) ? value.toString('utf8') : String(value)
}

/**
 * The decoder for a column, from its canonical type and MySQL data type
 * (`information_schema.COLUMNS.DATA_TYPE`), or undefined when the driver's
 * value is already canonical (numbers, decimal text, strings, Buffers).
 */
export function decoderFor(type: FieldInfo['type'], dataType: string): Decoder | undefined {
  switch (type) {
    case 'boolean':
      return dataType === 'bit' ? (v) => decodeBits(v) !== 0 : (v) => Number(v) !== 0
    case 'integer':
      if (dataType === 'bit') return decodeBits
      return dataType === 'bigint' ? decodeInt64 : undefined
    case 'float':
      return dataType === 'float' ? decodeFloat32 : undefined
    case 'decimal':
      return undefined
    case 'timestamp':
      return decodeTimestamp
    case 'localtimestamp':
      return decodeLocalTimestamp
    case 'date':
      return decodeDate
    case 'time':
      return decodeTime
    case 'json':
      return decodeJson
    case 'uuid':
      return (v) => text(v).toLowerCase()
    case 'text':
    case 'enum':
      return (v) => (typeof v === 'string' ? v : text(v))
    case 'array':
      return decodeSet
    case 'bytes':
      return undefined
  }
}

/**
 * A SET value (`a,b`, members in the column's definition order; members
 * can hold no comma) → a canonical array of its members; '' is the empty set.
 */
export function decodeSet(value: unknown): string {
  const list = text(value)
  return canonicalArray(list === '' ? [] : list.split(','), 'enum')
}

/** A canonical array as a SET value: its elements joined by commas (the record check has refused null elements and non-members). */
export function encodeSet(value: string): string {
  return arrayElements(value).join(',')
}

/** `2026-11-21T10:00:00.123456Z` (or a local `…123456`) → `2026-11-21 10:00:00.123456`, the form MySQL reads as a DATETIME. */
export function encodeDateTime(value: string): string {
  const canonical = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z?$/.test(value) ? value : parseTimestamp(value)
  return `${canonical.slice(0, 10)} ${canonical.slice(11, 26)}`
}

function asBuffer(value: Uint8Array): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength)
}

/** An integer (number, bigint or integer text) as a BIGINT parameter, UNSIGNED beyond 2^63-1. */
function integerParam(value: number | bigint): Param {
  if (typeof value === 'number' && !Number.isSafeInteger(value)) return value
  const big = BigInt(value)
  return big > INT64_MAX ? TYPED.LONGLONG.unsigned(big) : TYPED.LONGLONG(big)
}

/**
 * A canonical value as a parameter compared with a field (filters, keys):
 * integers and booleans as BIGINT, decimals as DECIMAL, so comparisons are
 * exact, never through a double; timestamps as `YYYY-MM-DD HH:MM:SS.ffffff`
 * text, bytes as a Buffer, other values as text. Values written into a
 * column use the cheaper {@link encodeValue}.
 */
export function encodeParam(value: Value | undefined, field: Pick<FieldInfo, 'type' | 'bits'>): Param {
  if (value === null || value === undefined) return null
  switch (field.type) {
    case 'integer':
      if (typeof value === 'number' || typeof value === 'bigint') return integerParam(value)
      if (typeof value === 'string' && /^-?\d+$/.test(value.trim())) return integerParam(BigInt(value.trim()))
      if (typeof value === 'boolean') return integerParam(value ? 1 : 0)
      return value instanceof Uint8Array ? asBuffer(value) : value
    case 'boolean':
      if (typeof value === 'boolean') return integerParam(value ? 1 : 0)
      return typeof value === 'number' || typeof value === 'bigint' ? integerParam(value) : String(value)
    case 'decimal':
      return typeof value === 'boolean' || value instanceof Uint8Array ? String(value) : TYPED.NEWDECIMAL(String(value))
    case 'float':
      // A FLOAT gets the float32 itself: its shortest spelling (3.4028235e38) may lie just beyond FLT_MAX, which MariaDB refuses.
      if (typeof value === 'number') return field.bits === 32 ? Math.fround(value) : value
      return typeof value === 'bigint' ? Number(value) : String(value)
    case 'bytes':
      return value instanceof Uint8Array ? asBuffer(value) : String(value)
    case 'array':
      return typeof value === 'string' ? encodeSet(value) : String(value)
    case 'timestamp':
    case 'localtimestamp':
      if (typeof value !== 'string') return String(value)
      try {
        return encodeDateTime(value)
      } catch {
        // Not a timestamp: let the server reject it (strict mode) rather than guess.
        return value
      }
    default:
      return value instanceof Uint8Array ? asBuffer(value).toString('utf8') : typeof value === 'string' ? value : String(value)
  }
}

/**
 * A canonical value as a parameter written into a column of the field's
 * type. The column's type decides the conversion, so no parameter type is
 * declared: safe integers go as numbers, bigints and decimals as exact text
 * (typed parameters cost mysql2 twice the time: 53k against 110k rows/s
 * measured in multi-row INSERTs here).
 */
export function encodeValue(value: Value | undefined, field: Pick<FieldInfo, 'type'>): Param {
  if (value === null || value === undefined) return null
  switch (field.type) {
    case 'integer':
    case 'boolean':
      if (typeof value === 'boolean') return value ? 1 : 0
      return typeof value === 'bigint' ? value.toString() : value instanceof Uint8Array ? asBuffer(value) : value
    case 'decimal':
      return value instanceof Uint8Array ? asBuffer(value).toString('utf8') : String(value)
    default:
      return encodeParam(value, field)
  }
}
