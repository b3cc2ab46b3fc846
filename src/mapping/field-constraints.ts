/**
 * What a destination field declares (NOT NULL, a length, a precision and
 * scale), checked before a value is written: a database would reject the
 * value, or worse, silently cut or round it.
 */
import { RecordError } from '../errors.js'
import type { FieldInfo, Value } from '../values/canonical.js'
import { displayValue } from './coerce.js'
import { parseDecimal, trimDecimal } from './decimal.js'

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
      if (value === null) throw rejected(field, value, 'the field is NOT NULL', 'Fill the source value, or map a default with COALESCE.')
    })
  }
  const maxLength = field.maxLength
  if (maxLength !== undefined && field.type === 'text') {
    checks.push((value) => {
      if (typeof value !== 'string' || value.length <= maxLength) return
      const length = Array.from(value).length
      if (length > maxLength) {
        throw rejected(field, value, `it is ${length} characters long and the field holds ${maxLength}`, 'Widen the destination field, or shorten the value with SUBSTR.')
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
        throw rejected(field, value, `it has ${exact.scale} decimal places and the field keeps ${scale}`, 'Widen the destination field, or round the value with ROUND.')
      }
      const integerDigits = exact.digits === 0n ? 0 : Math.max(exact.digits.toString().length - exact.scale, 0)
      if (precision !== undefined && integerDigits > precision - scale) {
        throw rejected(field, value, `it has ${integerDigits} digits before the point and the field allows ${precision - scale}`, 'Widen the destination field.')
      }
    })
  }
  if (checks.length === 0) return undefined
  if (checks.length === 1) return checks[0]
  return (value) => {
    for (const check of checks) check(value)
  }
}
