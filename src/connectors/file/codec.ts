/**
 * Canonical values ↔ the text a CSV cell (or an NDJSON string) holds.
 *
 * Written forms are the canonical ones, so a file says exactly what the
 * value is: `true`/`false`, integers in full (never rounded, even beyond
 * 2^53), decimals exact (with the field's declared scale), floats in JavaScript's
 * shortest round-trip form (`5e-324`, `-0`, `NaN`, `Infinity`), timestamps
 * `YYYY-MM-DDTHH:MM:SS.ffffffZ` (local ones without the `Z`), bytes in base64, json as canonical JSON.
 * Reading accepts those and the common variants (`TRUE`, `t`/`f`, `1`/`0`,
 * timestamps with offsets, upper-case uuids) and refuses anything else.
 */
import { withScale } from '../../mapping/decimal.js'
import type { CanonicalType, Value } from '../../values/canonical.js'
import { normalizeDecimal } from '../../values/compare.js'
import { canonicalJson } from '../../values/json.js'
import { parseDate, parseLocalTimestamp, parseTime, parseTimestamp } from '../../values/temporal.js'

const INTEGER_TEXT = /^[+-]?\d+$/
const PLAIN_DECIMAL = /^-?\d+(?:\.\d+)?$/
const DECIMAL_TEXT = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/
const FLOAT_TEXT = /^[+-]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|Infinity|NaN)$/
const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const BASE64_TEXT = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/
const TRUE_TEXT = new Set(['true', 't', '1', 'yes', 'y'])
const FALSE_TEXT = new Set(['false', 'f', '0', 'no', 'n'])

/** A float in its shortest text that reads back as the same double (`-0` keeps its sign). */
export function formatFloat(value: number): string {
  return Object.is(value, -0) ? '-0' : String(value)
}

/**
 * The text of a canonical value of `type`. A decimal of a field with a
 * declared `scale` is written with that many fraction digits (`19.90` in a
 * `decimal(10,2)` stays `19.90`, whichever source printed it as `19.9`).
 * @example formatText(2n ** 63n - 1n, 'integer') // '9223372036854775807'
 * @example formatText('19.9', 'decimal', 2)     // '19.90'
 */
export function formatText(value: Value, type: CanonicalType, scale?: number): string {
  if (value === null) throw new TypeError('NULL has no text form')
  switch (type) {
    case 'decimal':
      return scale === undefined ? String(value) : withScale(String(value), scale)
    case 'boolean':
      return value === true || value === 1 ? 'true' : 'false'
    case 'float':
      return formatFloat(Number(value))
    case 'bytes':
      return Buffer.from(value as Uint8Array).toString('base64')
    default:
      return typeof value === 'string' ? value : String(value)
  }
}

function show(text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text)
}

/**
 * The canonical value of `text` read as `type`. Throws a TypeError saying
 * what the text is and what was expected.
 * @example parseText('12.50', 'decimal') // '12.50'
 */
export function parseText(text: string, type: CanonicalType): Value {
  switch (type) {
    case 'text':
      return text
    case 'boolean': {
      const lower = text.trim().toLowerCase()
      if (TRUE_TEXT.has(lower)) return true
      if (FALSE_TEXT.has(lower)) return false
      throw new TypeError(`${show(text)} is not a boolean (write true or false)`)
    }
    case 'integer': {
      const trimmed = text.trim()
      if (!INTEGER_TEXT.test(trimmed)) throw new TypeError(`${show(text)} is not an integer`)
      const value = BigInt(trimmed)
      return value >= -9007199254740991n && value <= 9007199254740991n ? Number(value) : value
    }
    case 'decimal': {
      const trimmed = text.trim()
      if (PLAIN_DECIMAL.test(trimmed)) return trimmed
      if (DECIMAL_TEXT.test(trimmed)) return normalizeDecimal(trimmed)
      throw new TypeError(`${show(text)} is not a decimal number`)
    }
    case 'float': {
      const trimmed = text.trim()
      if (!FLOAT_TEXT.test(trimmed)) throw new TypeError(`${show(text)} is not a number`)
      return Number(trimmed)
    }
    case 'uuid': {
      const lower = text.trim().toLowerCase()
      if (!UUID_TEXT.test(lower)) throw new TypeError(`${show(text)} is not a uuid`)
      return lower
    }
    case 'bytes':
      if (!BASE64_TEXT.test(text)) throw new TypeError(`${show(text)} is not base64 (bytes are written in base64)`)
      return Buffer.from(text, 'base64')
    case 'timestamp':
      return withReason(text, 'a timestamp', () => parseTimestamp(text))
    case 'localtimestamp':
      return withReason(text, 'a local timestamp', () => parseLocalTimestamp(text))
    case 'date':
      return withReason(text, 'a date', () => parseDate(text))
    case 'time':
      return withReason(text, 'a time of day', () => parseTime(text))
    case 'json':
      return withReason(text, 'JSON', () => canonicalJson(text))
    case 'enum':
      return text
    case 'array': {
      const json = withReason(text, 'a JSON array', () => canonicalJson(text))
      if (!json.startsWith('[')) throw new TypeError(`${show(text)} is not a JSON array (arrays are written as JSON arrays)`)
      return json
    }
  }
}

function withReason(text: string, what: string, parse: () => string): string {
  try {
    return parse()
  } catch (error) {
    throw new TypeError(`${show(text)} is not ${what} (${(error as Error).message})`)
  }
}
