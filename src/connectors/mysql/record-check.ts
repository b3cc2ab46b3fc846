/**
 * Checks a batch before it is sent, for what MySQL would change silently
 * even in strict mode (a decimal with more fraction digits is rounded, a
 * fraction of a second beyond the column's precision is cut, 1.5 into an
 * INT becomes 2, a double into FLOAT loses digits, a JavaScript string with
 * a lone surrogate would be written as U+FFFD) and for what it would reject
 * without naming the record (too long, out of range, NULL into NOT NULL, a
 * date outside 0001-9999, a TIMESTAMP outside 1970-2038, a record larger
 * than the server's max_allowed_packet). Each problem is a RecordError
 * naming the entity, the record's key, the field and the limit.
 */
import { RecordError } from '../../errors.js'
import {
  characterCount,
  decimalDigits,
  fractionDigitsProblem,
  integerRange,
  integerRangeProblem,
  NOT_NULL_PROBLEM,
  textLengthProblem,
  wholeDigitsProblem,
} from '../../mapping/field-constraints.js'
import { arrayTokens, enumViolation, isNested, tokenText } from '../../values/array.js'
import type { Row, Value } from '../../values/canonical.js'
import { parseTimestamp, timestampToMicros } from '../../values/temporal.js'
import { decodeFloat32 } from './codec.js'
import type { MyColumn, MyTable } from './introspect.js'
import { formatBytes, LARGEST_PACKET, STATEMENT_OVERHEAD, valueBytes, wireBound, wireBytes } from './packet-size.js'
import { describeKey, formatValue } from './source.js'

const INTEGER_BITS: Record<string, number> = { tinyint: 8, smallint: 16, mediumint: 24, int: 32, integer: 32, bigint: 64 }

/** TIMESTAMP holds 1970-01-01 00:00:01 to 2038-01-19 03:14:07.999999 UTC. */
const TIMESTAMP_RANGE: [bigint, bigint] = [1_000_000n, 2_147_483_647_999_999n]

const ranges = new WeakMap<MyColumn, [bigint, bigint] | undefined>()

/** The inclusive range of an integer column (computed once per column). */
function rangeOf(column: MyColumn): [bigint, bigint] | undefined {
  if (!ranges.has(column)) ranges.set(column, columnRange(column))
  return ranges.get(column)
}

/** The inclusive range of an integer column, or undefined when it has none to check. */
function columnRange(column: MyColumn): [bigint, bigint] | undefined {
  if (column.dataType === 'year') return [0n, 2155n]
  if (column.dataType === 'bit') {
    const bits = Number(/bit\((\d+)\)/i.exec(column.field.nativeType)?.[1] ?? 1)
    return [0n, (1n << BigInt(bits)) - 1n]
  }
  const bits = INTEGER_BITS[column.dataType]
  if (bits === undefined) return undefined
  return integerRange(bits, column.unsigned)
}

const CANONICAL_TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z?$/

/** A surrogate not part of a pair: JavaScript strings may hold one, UTF-8 cannot. */
const LONE_SURROGATE = /\p{Cs}/u

/** Nonzero digits of a canonical timestamp or time beyond `digits` fraction digits. */
function fractionBeyond(text: string, digits: number): boolean {
  const fraction = /\.(\d+)/.exec(text)?.[1] ?? ''
  return /[1-9]/.test(fraction.slice(digits))
}

/** What is wrong with one value for a column, or undefined when it fits. */
export function valueProblem(column: MyColumn, value: Value): string | undefined {
  const { field } = column
  if (value === null) return field.nullable ? undefined : NOT_NULL_PROBLEM
  switch (field.type) {
    case 'text':
    case 'json':
    case 'uuid': {
      if (typeof value !== 'string') return undefined
      if (LONE_SURROGATE.test(value)) return 'the text has a lone UTF-16 surrogate, which UTF-8 cannot hold'
      if (field.maxLength !== undefined && value.length > field.maxLength) {
        const length = characterCount(value)
        if (length > field.maxLength) return textLengthProblem(length, field.nativeType.replace(/ COLLATE .*/, ''), field.maxLength)
      }
      if (column.maxBytes !== undefined && value.length * 3 > column.maxBytes) {
        const bytes = Buffer.byteLength(value, 'utf8')
        if (bytes > column.maxBytes) return `value of ${bytes} bytes (UTF-8) is longer than ${column.dataType.toUpperCase()} holds (${column.maxBytes} bytes); use a larger type such as LONGTEXT`
      }
      return undefined
    }
    case 'bytes':
      if (value instanceof Uint8Array && column.maxBytes !== undefined && value.byteLength > column.maxBytes) {
        return `value of ${value.byteLength} bytes is longer than ${field.nativeType} holds (${column.maxBytes} bytes)`
      }
      return undefined
    case 'integer': {
      if (typeof value === 'number' && !Number.isInteger(value)) return `${value} is not an integer (MySQL would round it)`
      const range = rangeOf(column)
      if (!range || (typeof value !== 'number' && typeof value !== 'bigint')) return undefined
      // Numbers compare with bigints exactly; no BigInt is made for the common case.
      return value < range[0] || value > range[1] ? integerRangeProblem(value, field.nativeType, range) : undefined
    }
    case 'decimal': {
      if (typeof value === 'boolean' || value instanceof Uint8Array) return undefined
      const digits = decimalDigits(typeof value === 'string' ? value : String(value))
      if (!digits) return `${formatValue(value)} is not a decimal number ${field.nativeType} can hold`
      const scale = field.scale ?? 0
      if (digits.fraction > scale) return `${fractionDigitsProblem(value, digits.fraction, field.nativeType, scale)} (MySQL would round it)`
      if (field.precision !== undefined && digits.whole > field.precision - scale) {
        return wholeDigitsProblem(value, digits.whole, field.nativeType, field.precision - scale)
      }
      return undefined
    }
    case 'float': {
      if (typeof value !== 'number') return undefined
      if (!Number.isFinite(value)) return `${value} cannot be stored: MySQL floating-point columns hold no NaN or Infinity`
      if (column.dataType === 'float') {
        // The shortest spelling of FLT_MAX (3.4028235e38) is a double just above it that still rounds to it.
        if (!Number.isFinite(Math.fround(value))) return `${value} is out of range for FLOAT (single precision, up to 3.4e38)`
        if (decodeFloat32(value) !== value) return `${value} has more digits than FLOAT (single precision) keeps; use DOUBLE`
      }
      return undefined
    }
    case 'timestamp':
    case 'localtimestamp': {
      if (typeof value !== 'string') return undefined
      let canonical = value
      if (!CANONICAL_TIMESTAMP.test(value)) {
        try {
          canonical = parseTimestamp(value)
        } catch {
          return `${formatValue(value)} is not a timestamp MySQL can store`
        }
      }
      if (!/^\d{4}-/.test(canonical) || canonical.startsWith('0000')) return `${value} is outside the years 0001-9999 that ${field.nativeType} holds`
      if (column.dataType === 'timestamp') {
        const micros = timestampToMicros(canonical)
        if (micros < TIMESTAMP_RANGE[0] || micros > TIMESTAMP_RANGE[1]) {
          return `${value} is outside the range of TIMESTAMP (1970-01-01 00:00:01 to 2038-01-19 03:14:07 UTC); use DATETIME(6)`
        }
      }
      if (column.fractionDigits !== undefined && column.fractionDigits < 6 && fractionBeyond(canonical, column.fractionDigits)) {
        return `${value} has more fraction digits than ${field.nativeType} keeps (${column.fractionDigits}); MySQL would round it`
      }
      return undefined
    }
    case 'enum':
      return typeof value === 'string' ? enumViolation([value], field.enumValues) : undefined
    case 'array':
      return typeof value === 'string' ? setProblem(value, field.enumValues ?? []) : undefined
    case 'date':
      if (typeof value === 'string' && (!/^\d{4}-/.test(value) || value.startsWith('0000'))) return `${value} is outside the years 0001-9999 that DATE holds`
      return undefined
    case 'time':
      if (typeof value === 'string' && column.fractionDigits !== undefined && column.fractionDigits < 6 && fractionBeyond(value, column.fractionDigits)) {
        return `${value} has more fraction digits than ${field.nativeType} keeps (${column.fractionDigits}); MySQL would cut it`
      }
      return undefined
    default:
      return undefined
  }
}

/** What a SET column cannot hold: null elements, nested arrays, values outside its members. */
function setProblem(value: string, members: readonly string[]): string | undefined {
  let tokens: string[]
  try {
    tokens = arrayTokens(value)
  } catch {
    return `${formatValue(value)} is not an array`
  }
  if (tokens.some(isNested)) return 'a SET holds a one-dimensional array, not nested arrays'
  const elements = tokens.map(tokenText)
  if (elements.includes(null)) return 'a SET cannot hold a NULL element'
  return enumViolation(elements, members)
}

/** Whether a column needs any check at all (most do not, beyond nullability). */
function needsCheck(column: MyColumn): boolean {
  const { field } = column
  if (!field.nullable) return true
  switch (field.type) {
    case 'boolean':
      return false
    case 'bytes':
      return column.maxBytes !== undefined
    default:
      return true
  }
}

/**
 * Throw a RecordError (VALUE_REJECTED) for the first value the table would
 * reject or change, naming the field, the limit and the record's key.
 * @example "Entity 'items' rejected a record (id=3): name: value of 300 characters is longer than varchar(255) allows (255)."
 */
export function checkRows(table: MyTable, columns: readonly MyColumn[], rows: readonly Row[], keys: readonly string[]): void {
  for (const column of columns) {
    if (!needsCheck(column)) continue
    const name = column.field.name
    for (const row of rows) {
      const problem = valueProblem(column, row[name] ?? null)
      if (problem) {
        throw new RecordError('VALUE_REJECTED', 'data', `Entity '${table.info.name}' rejected a record (${describeKey(keys, row)}): ${name}: ${problem}.`, {
          details: { entity: table.info.name, field: name, key: keys.map((k) => row[k] ?? null) },
        })
      }
    }
  }
}

/**
 * Throw a RecordError (VALUE_REJECTED) for the first record too large for
 * one statement under the server's max_allowed_packet, naming its largest
 * field, the sizes and the setting. Sent anyway, the server would drop the
 * connection and the run would fail as if the network had.
 * @example "Entity 'docs' rejected a record (id=4): body: value of 20,971,520 bytes does not fit in one statement: the server's max_allowed_packet is 16,777,216 bytes. …"
 */
export function checkRowSizes(table: MyTable, columns: readonly MyColumn[], rows: readonly Row[], keys: readonly string[], maxAllowedPacket: number): void {
  const limit = maxAllowedPacket - STATEMENT_OVERHEAD
  for (const row of rows) {
    let bound = 0
    for (const column of columns) bound += wireBound(row[column.field.name])
    if (bound <= limit) continue
    let total = 0
    let largest = { name: columns[0]?.field.name ?? '?', bytes: -1 }
    for (const column of columns) {
      const value = row[column.field.name]
      total += wireBytes(value)
      const size = valueBytes(value)
      if (size > largest.bytes) largest = { name: column.field.name, bytes: size }
    }
    if (total <= limit) continue
    const whole = largest.bytes + STATEMENT_OVERHEAD < limit ? ` (the record's values take ${formatBytes(total)} bytes together)` : ''
    const fix =
      total + STATEMENT_OVERHEAD > LARGEST_PACKET
        ? `No MySQL or MariaDB server takes a statement over 1 GB; leave the field out of the mapping or shorten the value at the source.`
        : `Raise it on the server (SET GLOBAL max_allowed_packet = 1073741824, and max_allowed_packet = 1G in its configuration file to keep it after a restart), or leave the field out of the mapping.`
    throw new RecordError(
      'VALUE_REJECTED',
      'data',
      `Entity '${table.info.name}' rejected a record (${describeKey(keys, row)}): ${largest.name}: value of ${formatBytes(largest.bytes)} bytes${whole} does not fit in one statement: ` +
        `the server's max_allowed_packet is ${formatBytes(maxAllowedPacket)} bytes. ${fix}`,
      { details: { entity: table.info.name, field: largest.name, key: keys.map((k) => row[k] ?? null), bytes: largest.bytes, maxAllowedPacket } },
    )
  }
}
