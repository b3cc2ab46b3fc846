/**
 * Checks a batch before it is sent: what PostgreSQL would reject without
 * naming the field (a string longer than `varchar(n)`, an integer out of
 * range, too many digits for `numeric(p,s)`) or a NULL for a NOT NULL column,
 * reported with the field, the limit and the record's key.
 */
import { RecordError } from '../../errors.js'
import type { FieldInfo, Row, Value } from '../../values/canonical.js'
import type { PgColumn, PgTable } from './introspect.js'

const INTEGER_RANGES: Record<string, [number, number]> = {
  smallint: [-32768, 32767],
  integer: [-2147483648, 2147483647],
}

/**
 * Throw a RecordError (VALUE_REJECTED) for the first value the table would
 * reject, naming the field, the limit and the record's key.
 * @example 'Entity 'public.items' rejected a record (id=3): name: value of 300 characters is longer than varchar(255).'
 */
export function checkRows(table: PgTable, columns: readonly PgColumn[], rows: readonly Row[], keys: readonly string[]): void {
  for (const { field } of columns) {
    const range = INTEGER_RANGES[field.nativeType]
    if (field.nullable && field.maxLength === undefined && !range && field.precision === undefined) continue
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

function valueProblem(field: FieldInfo, value: Value, range: [number, number] | undefined): string | undefined {
  if (value === null) return field.nullable ? undefined : 'NULL is not allowed (the column is NOT NULL)'
  if (field.maxLength !== undefined && typeof value === 'string' && value.length > field.maxLength) {
    // PostgreSQL counts characters (code points) and lets excess trailing spaces go.
    const length = [...value.replace(/ +$/, '')].length
    if (length > field.maxLength) {
      const kind = field.nativeType.startsWith('character varying') ? 'varchar' : 'char'
      return `value of ${[...value].length} characters is longer than ${kind}(${field.maxLength})`
    }
  }
  if (range && (typeof value === 'number' || typeof value === 'bigint') && (value < range[0] || value > range[1])) {
    return `${value} is out of range for ${field.nativeType} (${range[0]} to ${range[1]})`
  }
  if (field.type === 'decimal' && field.precision !== undefined && typeof value !== 'boolean' && !(value instanceof Uint8Array)) {
    const text = String(value)
    const allowed = field.precision - (field.scale ?? 0)
    const whole = text.length <= allowed ? 0 : integerDigits(text)
    if (whole > allowed) return `${value} has ${whole} digits before the decimal point; ${field.nativeType} allows ${allowed}`
  }
  return undefined
}

/** Digits before the decimal point of a plain decimal (`-0012.5` → 2); 0 for anything else (exponents, NaN). */
function integerDigits(text: string): number {
  const match = /^[+-]?0*(\d*)(?:\.\d*)?$/.exec(text.trim())
  return match ? match[1]!.length : 0
}

function formatValue(value: Value): string {
  if (value instanceof Uint8Array) return `\\x${Buffer.from(value).toString('hex')}`
  return typeof value === 'string' ? JSON.stringify(value) : String(value)
}
