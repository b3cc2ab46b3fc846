/**
 * Field types of a file without a sidecar schema, inferred from its first
 * {@link INFERENCE_SAMPLE_ROWS} records.
 *
 * Each non-NULL value is classified; a field takes the narrowest type that
 * holds every value seen: integer (no leading zeros, so `007` stays text;
 * bigint beyond 2^53; beyond 64 bits a decimal), decimal (a fraction, kept exact), float (an exponent,
 * `1.5e3`), boolean (`true`/`false`), timestamp (ISO-8601 date and time with
 * an offset or `Z`; localtimestamp without one, timestamp when a field mixes both),
 * date, time, json (NDJSON objects and arrays), otherwise text. Integers
 * widen to decimal, numbers to float; in NDJSON any mix with json is json;
 * every other mix is text, as is a field that is NULL throughout the sample.
 * In NDJSON, strings are text unless they are timestamps, dates or times:
 * `"123"` stays the text it was quoted as.
 */
import type { CanonicalType, FieldInfo } from '../../values/canonical.js'
import { parseDate, parseTime, parseTimestamp } from '../../values/temporal.js'
import type { JsonToken } from './json-line.js'
import { nativeTypeOf } from './sidecar.js'

/** Records read to infer types when a file has no sidecar schema. */
export const INFERENCE_SAMPLE_ROWS = 1000

/** What one value looks like. */
type Kind = 'boolean' | 'integer' | 'decimal' | 'float' | 'timestamp' | 'localtimestamp' | 'date' | 'time' | 'json' | 'text'

const INTEGER = /^-?(?:0|[1-9]\d*)$/
const DECIMAL = /^-?(?:0|[1-9]\d*)\.\d+$/
const FLOAT = /^-?(?:0|[1-9]\d*)(?:\.\d+)?[eE][+-]?\d+$/
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/
const DATE = /^\d{4}-\d{2}-\d{2}$/
const TIME = /^\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?$/

function parses(parse: () => unknown): boolean {
  try {
    parse()
    return true
  } catch {
    return false
  }
}

/** The temporal kind of a text, if it is one. */
function temporalKind(text: string): Kind | undefined {
  const timestamp = TIMESTAMP.exec(text)
  // No zone: a wall clock, kept naive; with one (or in a column mixing both), an instant.
  if (timestamp) return parses(() => parseTimestamp(text)) ? (timestamp[1] === undefined ? 'localtimestamp' : 'timestamp') : undefined
  if (DATE.test(text)) return parses(() => parseDate(text)) ? 'date' : undefined
  if (TIME.test(text)) return parses(() => parseTime(text)) ? 'time' : undefined
  return undefined
}

/** Integers a staging table (SQLite, 64-bit) holds; longer ones are read as decimals. */
const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n

function numberKind(text: string): Kind | undefined {
  if (INTEGER.test(text)) {
    if (text.length < 19) return 'integer'
    const value = BigInt(text)
    return value >= INT64_MIN && value <= INT64_MAX ? 'integer' : 'decimal'
  }
  if (DECIMAL.test(text)) return 'decimal'
  if (FLOAT.test(text)) return 'float'
  return undefined
}

/** The kind of a CSV cell. */
export function kindOfText(text: string): Kind {
  if (/^(?:true|false)$/i.test(text)) return 'boolean'
  return numberKind(text) ?? temporalKind(text) ?? 'text'
}

/** The kind of an NDJSON value, or undefined for null. */
export function kindOfToken(token: JsonToken): Kind | undefined {
  switch (token.kind) {
    case 'null':
      return undefined
    case 'boolean':
      return 'boolean'
    case 'composite':
      return 'json'
    case 'number':
      return numberKind(token.text) ?? 'float'
    case 'string':
      return temporalKind(token.value) ?? 'text'
  }
}

const NUMERIC_RANK: Partial<Record<Kind, number>> = { integer: 0, decimal: 1, float: 2 }

/** The one type that holds every kind seen. */
function unify(kinds: ReadonlySet<Kind>): CanonicalType {
  if (kinds.size === 0) return 'text'
  if (kinds.has('json')) return 'json'
  if (kinds.size === 1) return [...kinds][0]!
  if (kinds.size === 2 && kinds.has('timestamp') && kinds.has('localtimestamp')) return 'timestamp'
  if ([...kinds].every((k) => NUMERIC_RANK[k] !== undefined)) return kinds.has('float') ? 'float' : 'decimal'
  return 'text'
}

/**
 * Collects the kinds of values per field and turns them into fields.
 * @example const types = new TypeInference(); types.observe('id', kindOfText('42')); types.fields(['id'])
 */
export class TypeInference {
  private readonly seen = new Map<string, Set<Kind>>()

  /** Note one non-NULL value of `field`. */
  observe(field: string, kind: Kind | undefined): void {
    let kinds = this.seen.get(field)
    if (!kinds) {
      kinds = new Set()
      this.seen.set(field, kinds)
    }
    if (kind !== undefined) kinds.add(kind)
  }

  /** Nullable fields in the given order, typed by what was seen (text when nothing was). */
  fields(names: readonly string[]): FieldInfo[] {
    return names.map((name) => {
      const type = unify(this.seen.get(name) ?? new Set())
      return { name, type, nativeType: nativeTypeOf({ type }), nullable: true }
    })
  }
}
