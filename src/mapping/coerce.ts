/**
 * Converting canonical values between canonical types, only where nothing is
 * lost: integer → decimal, text '42' → integer, a date → a midnight timestamp.
 * Anything that would round, cut or guess (12.5 → integer, a timestamp with a
 * time of day → date, a 20-digit integer → float) is refused, so a record is
 * rejected with a reason instead of arriving changed.
 */
import { RecordError } from '../errors.js'
import type { CanonicalType, Value } from '../values/canonical.js'
import { canonicalJson } from '../values/json.js'
import { parseDate, parseTime, parseTimestamp } from '../values/temporal.js'
import { compareDecimal, decimalFromNumber, decimalToBigInt, formatDecimal, isIntegral, parseDecimal } from './decimal.js'

const NUMERIC: readonly CanonicalType[] = ['integer', 'decimal', 'float']

/**
 * Which target types a value of each type can ever be converted to. Text
 * converts to anything but bytes when its content fits; bytes only to bytes.
 */
const CONVERTIBLE: Record<CanonicalType, readonly CanonicalType[]> = {
  text: ['text', 'boolean', 'integer', 'decimal', 'float', 'uuid', 'timestamp', 'localtimestamp', 'date', 'time', 'json', 'array', 'enum'],
  integer: [...NUMERIC, 'text', 'boolean', 'json'],
  decimal: [...NUMERIC, 'text', 'boolean', 'json'],
  float: [...NUMERIC, 'text', 'boolean', 'json'],
  boolean: ['boolean', ...NUMERIC, 'text', 'json'],
  uuid: ['uuid', 'text'],
  bytes: ['bytes'],
  timestamp: ['timestamp', 'localtimestamp', 'date', 'text'],
  localtimestamp: ['localtimestamp', 'timestamp', 'date', 'text'],
  date: ['date', 'timestamp', 'localtimestamp', 'text'],
  time: ['time', 'text'],
  json: ['json', 'text', 'array'],
  // An array value is canonical JSON text already; an enum value is text.
  array: ['array', 'json', 'text'],
  enum: ['enum', 'text'],
}

/**
 * Whether any non-null value of type `from` can be converted to `to`.
 * A false answer is a plan error (the mapping can never work); a true one
 * still leaves single values to be checked by {@link coerceValue}.
 */
export function canConvert(from: CanonicalType, to: CanonicalType): boolean {
  return CONVERTIBLE[from].includes(to)
}

const UUID_PATTERN = /^\{?([0-9a-f]{8})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{12})\}?$/i
const DATE_ONLY = /^-?\d{4,6}-\d{1,2}-\d{1,2}$/
const STARTS_LIKE_DATE = /^-?\d{4,6}-/
const TRUE_TEXT = new Set(['true', 't', '1'])
const FALSE_TEXT = new Set(['false', 'f', '0'])

/**
 * The canonical text of any non-null value: what TEXT() returns and what
 * CONCAT joins. Booleans are `true`/`false`, numbers their shortest exact
 * form, bytes lower-case hex, every other type its canonical string.
 * @example canonicalText(12n) // '12'
 */
export function canonicalText(value: Exclude<Value, null>): string {
  if (typeof value === 'string') return value
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')
  return String(value)
}

/** An integer as the canonical model holds it: a number when safe, a bigint beyond. */
function integerValue(value: bigint): number | bigint {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value
}

/**
 * Convert a value, or throw a TypeError whose message says why it cannot be
 * done without loss (e.g. `it has a fraction`). Null stays null.
 */
export function convertValue(value: Value, from: CanonicalType, to: CanonicalType): Value {
  if (value === null || from === to) return value
  if (!canConvert(from, to)) throw new TypeError(`there is no conversion from ${from} to ${to}`)
  switch (to) {
    case 'text':
      if (value instanceof Uint8Array) throw new TypeError('bytes have no text form')
      return canonicalText(value)
    case 'integer':
      return toInteger(value)
    case 'decimal':
      return toDecimal(value)
    case 'float':
      return toFloat(value)
    case 'boolean':
      return toBoolean(value)
    case 'uuid': {
      const match = typeof value === 'string' ? UUID_PATTERN.exec(value.trim()) : null
      if (!match) throw new TypeError('it is not a UUID')
      return match.slice(1).join('-').toLowerCase()
    }
    case 'timestamp':
      return toTimestamp(value)
    case 'localtimestamp':
      // A zoned instant becomes its UTC wall clock, and a local timestamp
      // lands in a zoned column as UTC (see docs/values.md, Decisions): the
      // digits never move by a server's or the process's time zone.
      return toTimestamp(value).slice(0, -1)
    case 'date':
      return toDate(value)
    case 'time':
      if (typeof value !== 'string') throw new TypeError('it is not a time')
      return parseTime(value)
    case 'json':
      return toJson(value, from)
    case 'array':
      return toArray(value)
    case 'enum':
      // Whether the value is one of the destination's allowed values is the sink's check (it knows them).
      if (typeof value !== 'string') throw new TypeError('it is not text')
      return value
    case 'bytes':
      throw new TypeError(`there is no conversion from ${from} to bytes`)
  }
}

function toInteger(value: Exclude<Value, null>): number | bigint {
  if (typeof value === 'boolean') return value ? 1 : 0
  if (typeof value === 'bigint') return integerValue(value)
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('it is not a finite number')
    if (!Number.isInteger(value)) throw new TypeError('it has a fraction')
    return Number.isSafeInteger(value) ? value : BigInt(value)
  }
  const decimal = typeof value === 'string' ? parseDecimal(value) : undefined
  if (!decimal) throw new TypeError('it is not a number')
  if (!isIntegral(decimal)) throw new TypeError('it has a fraction')
  return integerValue(decimalToBigInt(decimal))
}

function toDecimal(value: Exclude<Value, null>): string {
  if (typeof value === 'boolean') return value ? '1' : '0'
  if (typeof value === 'bigint') return String(value)
  const decimal = typeof value === 'number' ? decimalFromNumber(value) : typeof value === 'string' ? parseDecimal(value) : undefined
  if (!decimal) throw new TypeError(typeof value === 'number' ? 'it is not a finite number' : 'it is not a number')
  return formatDecimal(decimal)
}

function toFloat(value: Exclude<Value, null>): number {
  if (typeof value === 'boolean') return value ? 1 : 0
  if (typeof value === 'number') return value
  if (typeof value === 'bigint') {
    const float = Number(value)
    if (BigInt(float) !== value) throw new TypeError('it has more digits than a float holds')
    return float
  }
  if (typeof value !== 'string') throw new TypeError('it is not a number')
  const text = value.trim()
  const special = { nan: NaN, infinity: Infinity, '+infinity': Infinity, '-infinity': -Infinity }[text.toLowerCase()]
  if (special !== undefined) return special
  const decimal = parseDecimal(text)
  if (!decimal) throw new TypeError('it is not a number')
  const float = Number(text)
  // Lossless means it reads back as the same number: 0.1 does, 0.1000000000000000055 does not.
  const back = decimalFromNumber(float)
  if (!back || compareDecimal(back, decimal) !== 0) throw new TypeError('it has more digits than a float holds')
  return float
}

function toBoolean(value: Exclude<Value, null>): boolean {
  if (typeof value === 'boolean') return value
  if (typeof value === 'number' || typeof value === 'bigint') {
    if (Number(value) === 1) return true
    if (Number(value) === 0) return false
    throw new TypeError('only 0 and 1 are booleans')
  }
  if (typeof value === 'string') {
    const text = value.trim().toLowerCase()
    if (TRUE_TEXT.has(text)) return true
    if (FALSE_TEXT.has(text)) return false
    if (parseDecimal(text)) return toBoolean(Number(text))
  }
  throw new TypeError('it is not a boolean (true/false, t/f, 1/0)')
}

function toTimestamp(value: Exclude<Value, null>): string {
  // Epoch numbers are refused: seconds, milliseconds or microseconds would be a guess.
  if (typeof value !== 'string' || !STARTS_LIKE_DATE.test(value.trim())) throw new TypeError('it is not a timestamp')
  const text = value.trim()
  try {
    return DATE_ONLY.test(text) ? `${parseDate(text)}T00:00:00.000000Z` : parseTimestamp(text)
  } catch {
    throw new TypeError('it is not a valid timestamp')
  }
}

function toDate(value: Exclude<Value, null>): string {
  if (typeof value !== 'string' || !STARTS_LIKE_DATE.test(value.trim())) throw new TypeError('it is not a date')
  try {
    return parseDate(value)
  } catch (error) {
    throw new TypeError(/time of day/.test((error as Error).message) ? 'it has a time of day' : 'it is not a valid date')
  }
}

function toJson(value: Exclude<Value, null>, from: CanonicalType): string {
  if (typeof value === 'boolean' || typeof value === 'bigint') return String(value)
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('JSON has no NaN or Infinity')
    // String(1e21) is `1e+21`; canonical JSON spells it `1000000000000000000000` (as jsonb does).
    return canonicalJson(String(value))
  }
  if (typeof value !== 'string') throw new TypeError('it is not JSON')
  if (NUMERIC.includes(from)) return toDecimal(value)
  try {
    return canonicalJson(value)
  } catch {
    throw new TypeError('it is not JSON text')
  }
}

function toArray(value: Exclude<Value, null>): string {
  if (typeof value !== 'string') throw new TypeError('it is not a JSON array')
  let json: string
  try {
    json = canonicalJson(value)
  } catch {
    throw new TypeError('it is not a JSON array')
  }
  if (!json.startsWith('[')) throw new TypeError('it is not a JSON array')
  return json
}

/** A short, quoted rendering of a value for messages. */
export function displayValue(value: Value): string {
  if (value === null) return 'NULL'
  if (value instanceof Uint8Array) return `<${value.byteLength} bytes>`
  if (typeof value === 'string') {
    const text = value.length > 60 ? `${value.slice(0, 57)}...` : value
    return `'${text.replace(/'/g, "''")}'`
  }
  return String(value)
}

/**
 * Convert `value` from type `from` to type `to` for the destination field
 * `field`, where that loses nothing; throw a {@link RecordError} with code
 * `VALUE_REJECTED` (failure `data`) naming the field and the reason otherwise.
 * @example coerceValue(42, 'integer', 'decimal', 'price')     // '42'
 * @example coerceValue('12.5', 'text', 'integer', 'quantity') // throws: it has a fraction
 */
export function coerceValue(value: Value, from: CanonicalType, to: CanonicalType, field: string): Value {
  try {
    return convertValue(value, from, to)
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    throw new RecordError(
      'VALUE_REJECTED',
      'data',
      `Field '${field}': ${displayValue(value)} (${from}) cannot be stored as ${to} without loss: ${reason}. ` +
        'Change the destination field type, or convert the value with a transform.',
      { details: { field, value: displayValue(value), from, to, reason } },
    )
  }
}
