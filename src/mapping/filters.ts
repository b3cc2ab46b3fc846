/**
 * Filters: the plan's `filters` turned into canonical values of each field's
 * type (so connectors can pass them as parameters), and evaluated in memory
 * with SQL's semantics for rows that do not come from a database query
 * (change events, files).
 */
import type { Filter } from '../connectors/connector.js'
import { PlanError, type PlanIssue } from '../errors.js'
import type { FilterPlan } from '../plan/schema.js'
import type { CanonicalType, EntityInfo, FieldInfo, Row, Value } from '../values/canonical.js'
import { compareValues, valuesEqual } from '../values/compare.js'
import { convertValue, displayValue } from './coerce.js'
import { unknownField } from './unknown-field.js'

/** How to write a value of each type in YAML, for messages. */
const EXAMPLES: Partial<Record<CanonicalType, string>> = {
  integer: '42',
  decimal: "'12.50'",
  float: '1.5',
  boolean: 'true',
  uuid: "'0b7f6c1e-8a4d-4f4e-9d6a-2f1c3b5a7e90'",
  timestamp: "'2024-01-01' or '2024-01-01T12:00:00Z'",
  localtimestamp: "'2024-01-01' or '2024-01-01T12:00:00'",
  date: "'2024-01-01'",
  time: "'12:30:00'",
  json: `'{"a": 1}'`,
}

type YamlScalar = string | number | boolean | null

/** Convert one YAML scalar to a canonical value of `field`'s type, or say why not. */
function canonical(value: YamlScalar, field: FieldInfo): { value: Value } | { problem: string } {
  if (value === null) return { value: null }
  if (typeof value === 'number' && Number.isInteger(value) && !Number.isSafeInteger(value)) {
    return { problem: `${value} is too large to be read exactly from YAML; put it in quotes, e.g. '${BigInt(value)}'` }
  }
  const from: CanonicalType = typeof value === 'string' ? 'text' : typeof value === 'boolean' ? 'boolean' : Number.isInteger(value) ? 'integer' : 'float'
  try {
    return { value: convertValue(value, from, field.type) }
  } catch (error) {
    const example = EXAMPLES[field.type]
    return {
      problem:
        `${displayValue(value)} cannot be compared with '${field.name}' (${field.type}): ${(error as Error).message}` +
        (example ? `; write it like ${example}` : ''),
    }
  }
}

/**
 * The plan's filters as connector {@link Filter}s, with values converted to
 * canonical values of each field's type: `'2024-01-01'` on a timestamp field
 * becomes `'2024-01-01T00:00:00.000000Z'`, `'42'` on an integer field 42.
 *
 * Throws a {@link PlanError} listing every problem: `filters[0].field`
 * (unknown field, with the closest name), `filters[0].value` (a value that
 * cannot be converted, or a NULL that could never match; use `is_null`),
 * `filters[0].op` (`like` on a field that is not text).
 */
export function resolveFilters(filters: readonly FilterPlan[], source: EntityInfo): Filter[] {
  const issues: PlanIssue[] = []
  const fields = new Map(source.fields.map((f) => [f.name, f]))
  const resolved: Filter[] = []
  filters.forEach((plan, i) => {
    const at = `filters[${i}]`
    const field = fields.get(plan.field)
    if (!field) {
      issues.push({ path: `${at}.field`, message: unknownField('field', plan.field, source) })
      return
    }
    if (plan.op === 'is_null' || plan.op === 'is_not_null') {
      resolved.push({ field: plan.field, op: plan.op })
      return
    }
    if (plan.op === 'like' && field.type !== 'text') {
      issues.push({ path: `${at}.op`, message: `like needs a text field, but '${field.name}' is ${field.type}; use = or in` })
      return
    }
    if (field.type === 'bytes') {
      issues.push({ path: `${at}.op`, message: `'${field.name}' is bytes; filters on bytes fields can only be is_null or is_not_null` })
      return
    }
    const problem = filterValueProblem(plan)
    if (problem) {
      issues.push({ path: `${at}.${problem.setting}`, message: problem.message })
      return
    }
    const list = Array.isArray(plan.value)
    const scalars = (list ? plan.value : [plan.value ?? null]) as YamlScalar[]
    const values: Value[] = []
    for (const scalar of scalars) {
      const converted = canonical(scalar, field)
      if ('problem' in converted) {
        issues.push({ path: `${at}.value`, message: converted.problem })
        return
      }
      values.push(converted.value)
    }
    resolved.push({ field: plan.field, op: plan.op, value: list ? values : values[0]! })
  })
  if (issues.length > 0) throw new PlanError(issues)
  return resolved
}

/**
 * What is wrong with a filter's value whatever the field: a NULL that never
 * matches (SQL NULL semantics), or a `like` pattern that is not text. The
 * schema has already checked that the operator got one value or a list.
 * @example filterValueProblem({ field: 'Status', op: '=', value: null }) // { setting: 'value', message: "null never matches …" }
 */
export function filterValueProblem(filter: FilterPlan): { setting: 'value'; message: string } | undefined {
  if (filter.op === 'is_null' || filter.op === 'is_not_null') return undefined
  const scalars = Array.isArray(filter.value) ? filter.value : [filter.value ?? null]
  if (scalars.includes(null)) return { setting: 'value', message: nullProblem(filter.op) }
  if (filter.op === 'like' && typeof filter.value !== 'string') {
    return { setting: 'value', message: `like needs a text pattern, e.g. value: 'A%' (% any run of characters, _ one character); got ${String(filter.value)}` }
  }
  return undefined
}

function nullProblem(op: FilterPlan['op']): string {
  if (op === 'in') return 'a null in an in list never matches (SQL NULL semantics); add a separate filter with op: is_null'
  if (op === 'not_in') return 'a null in a not_in list makes it match nothing (SQL NULL semantics); remove it and add op: is_not_null'
  const instead = op === '!=' ? 'is_not_null' : 'is_null'
  return `null never matches with '${op}' (SQL NULL semantics); use op: ${instead}`
}

const likePatterns = new Map<string, RegExp>()

/**
 * A LIKE pattern as a regular expression: `%` any run of characters, `_`
 * exactly one character (code point), `\` escapes the next character.
 * Case-sensitive, as in PostgreSQL.
 */
function likeRegExp(pattern: string): RegExp {
  let regexp = likePatterns.get(pattern)
  if (regexp) return regexp
  let source = ''
  const chars = Array.from(pattern)
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!
    if (c === '\\' && i + 1 < chars.length) source += escapeRegExp(chars[++i]!)
    else if (c === '%') source += '[^]*'
    else if (c === '_') source += '[^]'
    else source += escapeRegExp(c)
  }
  regexp = new RegExp(`^${source}$`, 'u')
  if (likePatterns.size > 1000) likePatterns.clear()
  likePatterns.set(pattern, regexp)
  return regexp
}

function escapeRegExp(c: string): string {
  return /[\\^$.*+?()[\]{}|/-]/.test(c) ? `\\${c}` : c
}

/** Ordering for filters: as {@link compareValues}, with NaN above every float and equal to itself (PostgreSQL). */
function compare(type: CanonicalType, a: Value, b: Value): number {
  if (type === 'float') {
    const x = Number(a)
    const y = Number(b)
    if (Number.isNaN(x) || Number.isNaN(y)) return Number.isNaN(x) ? (Number.isNaN(y) ? 0 : 1) : -1
  }
  return compareValues(type, a, b)
}

function matches(value: Value, filter: Filter, type: CanonicalType): boolean {
  switch (filter.op) {
    case 'is_null':
      return value === null
    case 'is_not_null':
      return value !== null
    case 'in':
    case 'not_in': {
      const list = Array.isArray(filter.value) ? filter.value : [filter.value ?? null]
      // As the SQL builder does: an empty list is FALSE for in and TRUE for not_in.
      if (list.length === 0) return filter.op === 'not_in'
      if (value === null) return false
      const found = list.some((item) => item !== null && compare(type, value, item) === 0)
      if (filter.op === 'in') return found
      // x NOT IN (…, NULL) is never true in SQL.
      return !found && !list.includes(null)
    }
    default:
      break
  }
  const operand = (Array.isArray(filter.value) ? null : filter.value) ?? null
  if (value === null || operand === null) return false
  switch (filter.op) {
    case '=':
      return type === 'float' ? compare(type, value, operand) === 0 : valuesEqual(type, value, operand)
    case '!=':
      return type === 'float' ? compare(type, value, operand) !== 0 : !valuesEqual(type, value, operand)
    case '>':
      return compare(type, value, operand) > 0
    case '>=':
      return compare(type, value, operand) >= 0
    case '<':
      return compare(type, value, operand) < 0
    case '<=':
      return compare(type, value, operand) <= 0
    case 'like':
      return typeof value === 'string' && typeof operand === 'string' && likeRegExp(operand).test(value)
  }
}

/**
 * Whether a row passes every filter, with the semantics of the SQL the
 * connectors generate: a NULL field never matches a comparison, `in` never
 * matches NULL, `not_in` with a NULL in its list matches nothing, `like`
 * uses `%` and `_` (case-sensitive, `\` escapes), text compares in binary
 * (UTF-8) order and numbers exactly.
 * @example matchesFilters({ Status: 'Active' }, [{ field: 'Status', op: '=', value: 'Active' }], new Map([['Status', 'text']])) // true
 */
export function matchesFilters(row: Row, filters: readonly Filter[], fieldTypes: ReadonlyMap<string, CanonicalType>): boolean {
  for (const filter of filters) {
    const value = Object.hasOwn(row, filter.field) ? (row[filter.field] ?? null) : null
    if (!matches(value, filter, fieldTypes.get(filter.field) ?? 'text')) return false
  }
  return true
}
