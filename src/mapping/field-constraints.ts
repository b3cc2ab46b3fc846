/**
 * What a destination field declares (NOT NULL, a length, a precision and
 * scale), checked before a value is written: a database would reject the
 * value, or worse, silently cut or round it.
 */
import { RecordError } from '../errors.js'
import type { FieldInfo, Value } from '../values/canonical.js'
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
  const decimal = parseDecimal(text)
  if (!decimal) return undefined
  const exact = trimDecimal(decimal)
  const whole = exact.digits === 0n ? 0 : Math.max(exact.digits.toString().length - exact.scale, 0)
  return { whole, fraction: exact.scale }
}

/**
 * Too many digits after the point (beyond the scale) or before it (beyond
 * precision - scale) for a decimal field; undefined when the value fits or
 * is no decimal number (the codec judges those).
 */
export function decimalProblem(field: FieldInfo, value: Value): string | undefined {
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'bigint') return undefined
  const digits = decimalDigits(String(value))
  if (!digits) return undefined
  const scale = field.scale ?? 0
  if (digits.fraction > scale) return fractionDigitsProblem(value, digits.fraction, field.nativeType, scale)
  if (field.precision !== undefined && digits.whole > field.precision - scale) return wholeDigitsProblem(value, digits.whole, field.nativeType, field.precision - scale)
  return undefined
}

function rejected(field: FieldInfo, value: Value, reason: string, fix: string): RecordError {
  return new RecordError('VALUE_REJECTED', 'data', `Field '${field.name}' (${field.nativeType}) cannot hold ${displayValue(value)}: ${reason}. ${fix}`, {
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
    checks.push((value) => {
      const problem = value === null ? undefined : decimalProblem(field, value)
      if (problem === undefined) return
      const fix = problem.includes('after the decimal point') ? 'Widen the destination field, or round the value with ROUND.' : 'Widen the destination field.'
      throw rejected(field, value, problem, fix)
    })
  }
  if (checks.length === 0) return undefined
  if (checks.length === 1) return checks[0]
  return (value) => {
    for (const check of checks) check(value)
  }
}
