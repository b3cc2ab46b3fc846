/**
 * Checks a batch before it is sent: what PostgreSQL would reject without
 * naming the field (a string longer than `varchar(n)`, an integer out of
 * range, too many digits for `numeric(p,s)`) or a NULL for a NOT NULL column,
 * reported with the field, the limit and the record's key.
 */
import { RecordError } from '../../errors.js'
import { characterCount, decimalDigits, integerRange, integerRangeProblem, NOT_NULL_PROBLEM, textLengthProblem, wholeDigitsProblem } from '../../mapping/field-constraints.js'
import type { FieldInfo, Row, Value } from '../../values/canonical.js'
import { arrayElements, enumViolation } from '../../values/array.js'
import type { PgColumn, PgTable } from './introspect.js'

/** The integer types the check knows the range of (PostgreSQL would reject a value beyond it without naming the field). */
const INTEGER_RANGES: Record<string, [bigint, bigint]> = {
  smallint: integerRange(16),
  integer: integerRange(32),
}

/**
 * Throw a RecordError (VALUE_REJECTED) for the first value the table would
 * reject, naming the field, the limit and the record's key.
 * @example 'Entity 'public.items' rejected a record (id=3): name: value of 300 characters is longer than varchar(255) allows (255).'
 */
export function checkRows(table: PgTable, columns: readonly PgColumn[], rows: readonly Row[], keys: readonly string[]): void {
  for (const { field } of columns) {
    const range = INTEGER_RANGES[field.nativeType]
    if (field.nullable && field.maxLength === undefined && !range && field.precision === undefined && field.type !== 'enum' && field.type !== 'array') continue
    for (const row of rows) {
      const value = row[field.name] ?? null
      const problem = valueProblem(field, value, range)
      if (problem) {
        const key = keys.map((k) => `${k}=${formatValue(row[k] ?? null)}`).join(', ')
        throw new RecordError('VALUE_REJECTED', 'data', `Entity '${table.info.name}' rejected a record (${key}): ${field.name}: ${problem}.`, {
          details: { entity: table.info.name, field: field.name, key: keys.map((k) => row[k] ?? null) },
        })
      }
    }
  }
}

function valueProblem(field: FieldInfo, value: Value, range: [bigint, bigint] | undefined): string | undefined {
  if (value === null) return field.nullable ? undefined : NOT_NULL_PROBLEM
  if (field.maxLength !== undefined && typeof value === 'string' && value.length > field.maxLength) {
    // PostgreSQL counts characters (code points) and lets excess trailing spaces go.
    if (characterCount(value.replace(/ +$/, ''), field.maxLength) > field.maxLength) {
      const kind = field.nativeType.startsWith('character varying') ? 'varchar' : 'char'
      return textLengthProblem(characterCount(value), `${kind}(${field.maxLength})`, field.maxLength)
    }
  }
  if ((field.type === 'enum' || field.type === 'array') && typeof value === 'string') {
    const problem = enumProblem(field, value)
    if (problem) return problem
  }
  if (range && (typeof value === 'number' || typeof value === 'bigint') && (value < range[0] || value > range[1])) {
    return integerRangeProblem(value, field.nativeType, range)
  }
  if (field.type === 'decimal' && field.precision !== undefined && typeof value !== 'boolean' && !(value instanceof Uint8Array)) {
    const text = String(value)
    const allowed = field.precision - (field.scale ?? 0)
    // Values this short cannot have too many digits; the common case skips the count.
    const whole = text.length <= allowed ? 0 : (decimalDigits(text)?.whole ?? 0)
    if (whole > allowed) return wholeDigitsProblem(value, whole, field.nativeType, allowed)
  }
  return undefined
}

/**
 * An array value that is not a JSON array, or a value outside an enum (an
 * enum array's element outside it): PostgreSQL would reject the whole
 * batch, naming neither field nor record.
 */
export function enumProblem(field: FieldInfo, value: string): string | undefined {
  if (field.type === 'enum') return enumViolation([value], field.enumValues)
  let elements: (string | null)[]
  try {
    elements = arrayElements(value)
  } catch {
    return `${formatValue(value)} is not an array (arrays are JSON array text, e.g. ["a","b"])`
  }
  return field.elementType === 'enum' ? enumViolation(elements, field.enumValues) : undefined
}

function formatValue(value: Value): string {
  if (value instanceof Uint8Array) return `\\x${Buffer.from(value).toString('hex')}`
  return typeof value === 'string' ? JSON.stringify(value) : String(value)
}
