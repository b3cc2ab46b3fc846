/**
 * The functions a transform may call. Names are case-insensitive. Every
 * function returns NULL when any argument is NULL, except COALESCE (the first
 * non-NULL argument) and CONCAT (NULL counts as '').
 *
 * | function | result | does |
 * |---|---|---|
 * | `SPLIT(text, separator, index)` | text | the `index`-th part (0-based; negative counts from the end; out of range → NULL); an empty separator splits into characters |
 * | `UPPER(text)`, `LOWER(text)` | text | Unicode case mapping, locale-independent |
 * | `TRIM(text)` | text | strip leading and trailing white space |
 * | `CONCAT(value, …)` | text | join the canonical texts, NULL as '' |
 * | `COALESCE(value, …)` | common type | the first non-NULL argument |
 * | `REPLACE(text, from, to)` | text | replace every occurrence (literal, not a pattern) |
 * | `SUBSTR(text, start[, length])` | text | by code point, 1-based like SQL; a negative start counts from the end |
 * | `ROUND(number[, digits])` | decimal | exact, half away from zero: ROUND('2.675', 2) = '2.68'; digits may be negative |
 * | `NUMBER(value)` | decimal | text → decimal; fails on text that is not a number |
 * | `TEXT(value)` | text | canonical text: `true`, `42`, `2026-01-02T03:04:05.000000Z`, hex for bytes |
 * | `DATE_FORMAT(timestamp, pattern)` | text | UTC; tokens YYYY MM DD HH mm ss SSS SSSSSS, `[...]` for literal text |
 *
 * COALESCE's type is the arguments' type when they agree, decimal for mixed
 * numbers, timestamp for dates mixed with timestamps, text otherwise.
 */
import type { CanonicalType, Value } from '../../values/canonical.js'
import { parseDate, parseTimestamp } from '../../values/temporal.js'
import { canonicalText, convertValue, displayValue } from '../coerce.js'
import { decimalFromNumber, decimalToBigInt, formatDecimal, isIntegral, parseDecimal, roundDecimal, type Decimal } from '../decimal.js'
import { TransformError } from './errors.js'

/** A canonical type, or `null` for the literal NULL (which has no type of its own). */
export type StaticType = CanonicalType | 'null'

/** What an argument must be; checked against field types when a transform is compiled. */
export type ParamKind = 'any' | 'number' | 'integer' | 'temporal'

/** The argument types each kind accepts (text is accepted and checked per value). */
export const PARAM_TYPES: Record<ParamKind, readonly StaticType[] | undefined> = {
  any: undefined,
  number: ['integer', 'decimal', 'float', 'text', 'boolean', 'null'],
  integer: ['integer', 'decimal', 'float', 'text', 'null'],
  temporal: ['timestamp', 'localtimestamp', 'date', 'text', 'null'],
}

/** How each kind is named in messages. */
export const PARAM_DESCRIPTIONS: Record<ParamKind, string> = {
  any: 'a value',
  number: 'a number',
  integer: 'a whole number',
  temporal: 'a timestamp or date',
}

/** One transform function. */
export interface TransformFunction {
  /** Upper-case name. */
  name: string
  /** How it is called, for messages: `SPLIT(text, separator, index)`. */
  signature: string
  minArgs: number
  /** `Infinity` for CONCAT and COALESCE. */
  maxArgs: number
  /** The kind of argument `index`. */
  param(index: number): ParamKind
  /** NULL in any argument gives NULL without calling {@link apply}. */
  strict: boolean
  resultType(args: readonly StaticType[]): CanonicalType
  /** Compute the result; `types` are the arguments' static types. Throws {@link TransformError}. */
  apply(args: readonly Value[], types: readonly StaticType[], resultType: CanonicalType): Value
}

/** A {@link TransformError} naming the function, the value and why. */
function failed(name: string, value: Value, reason: string): TransformError {
  return new TransformError(`${name} failed on ${displayValue(value)}: ${reason}`, {
    details: { function: name, value: displayValue(value), reason },
  })
}

function text(value: Value): string {
  return value === null ? '' : canonicalText(value)
}

/** A number argument as an exact decimal. */
function decimalArg(name: string, value: Value): Decimal {
  let decimal: Decimal | undefined
  if (typeof value === 'boolean') decimal = { negative: false, digits: value ? 1n : 0n, scale: 0 }
  else if (typeof value === 'bigint') decimal = { negative: value < 0n, digits: value < 0n ? -value : value, scale: 0 }
  else if (typeof value === 'number') decimal = decimalFromNumber(value)
  else if (typeof value === 'string') decimal = parseDecimal(value)
  if (!decimal) throw failed(name, value, 'it is not a number (expected digits such as 42 or -3.5)')
  return decimal
}

/** A whole-number argument (an index, a length, a number of digits). */
function integerArg(name: string, value: Value, what: string): number {
  const decimal = decimalArg(name, value)
  if (!isIntegral(decimal)) throw failed(name, value, `the ${what} must be a whole number`)
  return Number(decimalToBigInt(decimal))
}

const NUMERIC: readonly StaticType[] = ['integer', 'decimal', 'float']

function commonType(types: readonly StaticType[]): CanonicalType {
  const known = [...new Set(types.filter((t): t is CanonicalType => t !== 'null'))]
  if (known.length === 0) return 'text'
  if (known.length === 1) return known[0]!
  // Mixed numbers become decimal: it holds integers, decimals and floats exactly.
  if (known.every((t) => NUMERIC.includes(t))) return 'decimal'
  if (known.every((t) => t === 'timestamp' || t === 'date')) return 'timestamp'
  if (known.every((t) => t === 'localtimestamp' || t === 'date')) return 'localtimestamp'
  return 'text'
}

type DatePart = { literal: string } | { token: string }
const DATE_TOKENS = ['SSSSSS', 'YYYY', 'SSS', 'MM', 'DD', 'HH', 'mm', 'ss']
const datePatterns = new Map<string, DatePart[]>()

/** Split a DATE_FORMAT pattern into tokens and literal text (cached: patterns are usually constants). */
function datePattern(pattern: string): DatePart[] {
  let parts = datePatterns.get(pattern)
  if (parts) return parts
  parts = []
  let i = 0
  while (i < pattern.length) {
    const token = DATE_TOKENS.find((t) => pattern.startsWith(t, i))
    if (token) {
      parts.push({ token })
      i += token.length
    } else if (pattern[i] === '[' && pattern.indexOf(']', i) > i) {
      const close = pattern.indexOf(']', i)
      parts.push({ literal: pattern.slice(i + 1, close) })
      i = close + 1
    } else {
      parts.push({ literal: pattern[i]! })
      i++
    }
  }
  if (datePatterns.size > 1000) datePatterns.clear()
  datePatterns.set(pattern, parts)
  return parts
}

const CANONICAL_TIMESTAMP = /^(-?\d{4,})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{6})Z$/

/** A timestamp or date value as canonical timestamp fields, or undefined. */
function timestampFields(value: Value): string[] | undefined {
  if (typeof value !== 'string') return undefined
  const input = value.trim()
  let timestamp: string
  try {
    if (/^-?\d{4,6}-\d{1,2}-\d{1,2}$/.test(input)) timestamp = `${parseDate(input)}T00:00:00.000000Z`
    else if (/^-?\d{4,6}-/.test(input)) timestamp = parseTimestamp(input)
    else return undefined
  } catch {
    return undefined
  }
  return CANONICAL_TIMESTAMP.exec(timestamp)?.slice(1)
}

function formatDate(value: Value, pattern: string): string {
  const fields = timestampFields(value)
  if (!fields) throw failed('DATE_FORMAT', value, 'it is not a timestamp or date (expected e.g. 2026-01-31 or 2026-01-31T12:00:00Z)')
  const [year, month, day, hour, minute, second, fraction] = fields as [string, string, string, string, string, string, string]
  const values: Record<string, string> = {
    YYYY: year,
    MM: month,
    DD: day,
    HH: hour,
    mm: minute,
    ss: second,
    SSS: fraction.slice(0, 3),
    SSSSSS: fraction,
  }
  return datePattern(pattern)
    .map((part) => ('token' in part ? values[part.token]! : part.literal))
    .join('')
}

/** Code points from 1-based `start` (negative: from the end), `length` of them or to the end. */
function substring(value: Value, startValue: Value, lengthValue: Value | undefined): string {
  const chars = Array.from(text(value))
  const start = integerArg('SUBSTR', startValue, 'start')
  const length = lengthValue === undefined ? undefined : integerArg('SUBSTR', lengthValue, 'length')
  if (length !== undefined && length < 0) throw failed('SUBSTR', lengthValue ?? null, 'the length must not be negative')
  // Position 0 sits just before the first character (as in SQLite and PostgreSQL):
  // SUBSTR('hello', 0, 2) = 'h'.
  const begin = start > 0 ? start - 1 : start === 0 ? -1 : chars.length + start
  const end = length === undefined ? chars.length : begin + length
  return chars.slice(Math.max(begin, 0), Math.max(Math.min(end, chars.length), 0)).join('')
}

function split(value: Value, separatorValue: Value, indexValue: Value): string | null {
  const input = text(value)
  const separator = text(separatorValue)
  const parts = separator === '' ? Array.from(input) : input.split(separator)
  let index = integerArg('SPLIT', indexValue, 'index')
  if (index < 0) index += parts.length
  return parts[index] ?? null
}

function round(value: Value, digitsValue: Value | undefined): string {
  const decimal = decimalArg('ROUND', value)
  const digits = digitsValue === undefined ? 0 : integerArg('ROUND', digitsValue, 'number of digits')
  if (Math.abs(digits) > 1000) throw failed('ROUND', digitsValue ?? null, 'round to at most 1000 digits')
  return formatDecimal(roundDecimal(decimal, digits))
}

function coalesce(args: readonly Value[], types: readonly StaticType[], resultType: CanonicalType): Value {
  for (let i = 0; i < args.length; i++) {
    const value = args[i]!
    if (value === null) continue
    const type = types[i]!
    if (type === resultType) return value
    if (resultType === 'text') return canonicalText(value)
    try {
      return convertValue(value, type === 'null' ? resultType : type, resultType)
    } catch (error) {
      throw failed('COALESCE', value, `it cannot be turned into ${resultType}: ${(error as Error).message}`)
    }
  }
  return null
}

function define(
  name: string,
  signature: string,
  params: readonly ParamKind[],
  optional: number,
  resultType: CanonicalType | ((types: readonly StaticType[]) => CanonicalType),
  apply: TransformFunction['apply'],
  options: { rest?: ParamKind; strict?: boolean } = {},
): TransformFunction {
  return {
    name,
    signature,
    minArgs: params.length - optional,
    maxArgs: options.rest === undefined ? params.length : Infinity,
    param: (index) => params[index] ?? options.rest ?? 'any',
    strict: options.strict ?? true,
    resultType: typeof resultType === 'function' ? resultType : () => resultType,
    apply,
  }
}

const FUNCTIONS: readonly TransformFunction[] = [
  define('SPLIT', 'SPLIT(text, separator, index)', ['any', 'any', 'integer'], 0, 'text', ([v, s, i]) => split(v!, s!, i!)),
  define('UPPER', 'UPPER(text)', ['any'], 0, 'text', ([v]) => text(v!).toUpperCase()),
  define('LOWER', 'LOWER(text)', ['any'], 0, 'text', ([v]) => text(v!).toLowerCase()),
  define('TRIM', 'TRIM(text)', ['any'], 0, 'text', ([v]) => text(v!).trim()),
  define('CONCAT', 'CONCAT(value, …)', ['any'], 0, 'text', (args) => args.map(text).join(''), { rest: 'any', strict: false }),
  define('COALESCE', 'COALESCE(value, …)', ['any'], 0, commonType, coalesce, { rest: 'any', strict: false }),
  define('REPLACE', 'REPLACE(text, from, to)', ['any', 'any', 'any'], 0, 'text', ([v, from, to]) => {
    const search = text(from!)
    // split/join rather than replaceAll: a replacement such as '$&' must stay literal.
    return search === '' ? text(v!) : text(v!).split(search).join(text(to!))
  }),
  define('SUBSTR', 'SUBSTR(text, start[, length])', ['any', 'integer', 'integer'], 1, 'text', ([v, s, l]) => substring(v!, s!, l)),
  define('ROUND', 'ROUND(number[, digits])', ['number', 'integer'], 1, 'decimal', ([v, d]) => round(v!, d)),
  define('NUMBER', 'NUMBER(value)', ['number'], 0, 'decimal', ([v]) => formatDecimal(decimalArg('NUMBER', v!))),
  define('TEXT', 'TEXT(value)', ['any'], 0, 'text', ([v]) => text(v!)),
  define('DATE_FORMAT', 'DATE_FORMAT(timestamp, pattern)', ['temporal', 'any'], 0, 'text', ([v, p]) => formatDate(v!, text(p!))),
]

/** The functions by upper-case name. */
export const FUNCTIONS_BY_NAME: ReadonlyMap<string, TransformFunction> = new Map(FUNCTIONS.map((f) => [f.name, f]))

/** The names of every transform function, upper case. */
export const TRANSFORM_FUNCTIONS: readonly string[] = FUNCTIONS.map((f) => f.name)
