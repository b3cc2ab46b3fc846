/**
 * What a destination field declares (NOT NULL, a length, a precision and
 * scale), checked before a value is written: a database would reject the
 * value, or worse, silently cut or round it.
 */
import { RecordError } from '../errors.js'
import type { FieldInfo, Value } from '../values/canonical.js'
import { normalizeDecimal } from '../values/compare.js'
import { displayValue } from './coerce.js'
import { parseDecimal, trimDecimal } from './decimal.js'

// The words every checker uses for a value beyond a field's limits (the
// mapper here, and each connector's sink before it writes), so the same bad
// value reads the same whichever destination rejects it. A connector adds only
// what its dialect knows more (MySQL's byte limits, PostgreSQL's char padding).

/** The problem of a NULL for a NOT NULL field. */
export const NOT_NULL_PROBLEM = 'NULL is not allowed (the column is NOT NULL)'

/** Characters (code points), as VARCHAR(n) counts them; `limit` skips the count when the UTF-16 length is already within it. */
export function characterCount(text: string, limit = -1): number {
  if (text.length <= limit) return text.length
  let count = 0
  for (const _ of text) count++
  return count
}

/** @example textLengthProblem(300, 'varchar(255)', 255) // 'value of 300 characters is longer than varchar(255) allows (255)' */
export function textLengthProblem(length: number, type: string, limit: number): string {
  return `value of ${length} characters is longer than ${type} allows (${limit})`
}

/** @example wholeDigitsProblem('12345.5', 5, 'numeric(6,2)', 4) // '12345.5 has 5 digits before the decimal point; numeric(6,2) allows 4' */
export function wholeDigitsProblem(value: Value, digits: number, type: string, allowed: number): string {
  return `${String(value)} has ${digits} digits before the decimal point; ${type} allows ${allowed}`
}

/** @example fractionDigitsProblem('1.005', 3, 'decimal(5,2)', 2) // '1.005 has 3 digits after the decimal point; decimal(5,2) keeps 2' */
export function fractionDigitsProblem(value: Value, digits: number, type: string, scale: number): string {
  return `${String(value)} has ${digits} digits after the decimal point; ${type} keeps ${scale}`
}

/** @example integerRangeProblem(2147483648, 'integer', [-2147483648, 2147483647]) // '2147483648 is out of range for integer (-2147483648 to 2147483647)' */
export function integerRangeProblem(value: number | bigint, type: string, range: readonly [number | bigint, number | bigint]): string {
  return `${value} is out of range for ${type} (${range[0]} to ${range[1]})`
}

/** The inclusive range of an integer `bits` wide, signed or not: `integerRange(16)` is -32768 to 32767. */
export function integerRange(bits: number, unsigned = false): [bigint, bigint] {
  const size = 1n << BigInt(bits)
  return unsigned ? [0n, size - 1n] : [-(size / 2n), size / 2n - 1n]
}

/** `-0012.3400` → whole `12`, fraction `34`: a plain decimal, leading and trailing zeros apart. */
const PLAIN_DECIMAL = /^-?0*(\d*?)(?:\.(\d*?)0*)?$/

/** Digits before and after the point (leading and trailing zeros ignored) of a decimal, exponents allowed; undefined when it is not one. */
export function decimalDigits(text: string): { whole: number; fraction: number } | undefined {
  const plainMatch = PLAIN_DECIMAL.exec(text)
  if (plainMatch) {
    const [, whole = '', fraction = ''] = plainMatch
    return { whole: whole.length, fraction: fraction.length }
  }
  const trimmed = text.trim()
  if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(trimmed)) return undefined
  const plain = normalizeDecimal(trimmed).replace(/^-/, '')
  const [whole = '', fraction = ''] = plain.split('.')
  return { whole: whole === '0' ? 0 : whole.length, fraction: fraction.length }
}

function rejected(field: FieldInfo, value: Value, reason: string, fix: string): RecordError {
  return new RecordError('VALUE_REJECTED', 'data', `Field '${field.name}' (${field.nativeType}) cannot hold ${displayValue(value)}: ${field.name}: ${reason}. ${fix}`, {
    details: { field: field.name, value: displayValue(value), reason },
  })
}

/**
 * A check that throws a `RecordError` code `VALUE_REJECTED` naming the field
 * when a value breaks what the field declares, or undefined when it declares
 * nothing to check.
 */
export function constraintCheck(field: FieldInfo): ((value: Value) => void) | undefined {
  const checks: Array<(value: Value) => void> = []
  if (!field.nullable) {
    checks.push((value) => {
      if (value === null) throw rejected(field, value, NOT_NULL_PROBLEM, 'Fill the source value, or map a default with COALESCE.')
    })
  }
  const maxLength = field.maxLength
  if (maxLength !== undefined && field.type === 'text') {
    checks.push((value) => {
      if (typeof value !== 'string' || value.length <= maxLength) return
      const length = characterCount(value)
      if (length > maxLength) {
        throw rejected(field, value, textLengthProblem(length, field.nativeType, maxLength), 'Widen the destination field, or shorten the value with SUBSTR.')
      }
    })
  }
  if (field.type === 'decimal' && (field.scale !== undefined || field.precision !== undefined)) {
    const scale = field.scale ?? 0
    const precision = field.precision
    checks.push((value) => {
      if (value === null) return
      const decimal = parseDecimal(String(value))
      if (!decimal) return
      const exact = trimDecimal(decimal)
      if (exact.scale > scale) {
        throw rejected(field, value, fractionDigitsProblem(value, exact.scale, field.nativeType, scale), 'Widen the destination field, or round the value with ROUND.')
      }
      const integerDigits = exact.digits === 0n ? 0 : Math.max(exact.digits.toString().length - exact.scale, 0)
      if (precision !== undefined && integerDigits > precision - scale) {
        throw rejected(field, value, wholeDigitsProblem(value, integerDigits, field.nativeType, precision - scale), 'Widen the destination field.')
      }
    })
  }
  if (checks.length === 0) return undefined
  if (checks.length === 1) return checks[0]
  return (value) => {
    for (const check of checks) check(value)
  }
}
