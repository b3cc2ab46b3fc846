/**
 * Canonical values ↔ NDJSON values.
 *
 * Written so that every value stays exact for any JSON reader:
 * - integers within ±(2^53-1) are JSON numbers; beyond that JSON strings
 *   (`"9223372036854775807"`), since most JSON readers turn numbers into doubles;
 * - decimals are always JSON strings (`"12.50"`), exact, with the field's declared scale;
 * - floats are JSON numbers in shortest round-trip form; NaN and ±Infinity,
 *   which JSON cannot write, are the strings `"NaN"`, `"Infinity"`, `"-Infinity"`;
 * - bytes are base64 strings; timestamps, dates, times and uuids their canonical text;
 * - json fields hold the document itself (an object, array, string, number…);
 * - a NULL field is left out of its line, so a json field written as `null`
 *   is the JSON document `null`, not NULL.
 * The sidecar schema says which type each field has. Reading accepts
 * integers and decimals as numbers or strings (numbers keep their written
 * digits), and treats `null` as NULL except in a json field typed by a sidecar.
 */
import type { CanonicalType, Value } from '../../values/canonical.js'
import { canonicalJson } from '../../values/json.js'
import type { JsonToken } from './json-line.js'
import { formatFloat, formatText, parseText } from './codec.js'

/**
 * The JSON text of a canonical value (never called with NULL: NULL fields are left out);
 * a decimal is a string with the field's declared `scale`, as in {@link formatText}.
 * @example formatJsonValue(2n ** 63n - 1n, 'integer') // '"9223372036854775807"'
 */
export function formatJsonValue(value: Value, type: CanonicalType, scale?: number): string {
  switch (type) {
    case 'boolean':
      return value === true || value === 1 ? 'true' : 'false'
    case 'integer':
      return typeof value === 'bigint' ? `"${value}"` : String(value)
    case 'float': {
      const n = Number(value)
      return Number.isFinite(n) ? formatFloat(n) : `"${String(n)}"`
    }
    case 'json':
    case 'array':
      // An array is canonical JSON text: written as the JSON array itself.
      return String(value)
    default:
      return JSON.stringify(formatText(value, type, scale))
  }
}

/**
 * The canonical value of one NDJSON token read as `type`. `nullIsDocument`:
 * a json field's `null` is the JSON document null (files with a sidecar).
 * Throws a TypeError saying what the token is and what was expected.
 */
export function parseJsonToken(token: JsonToken, type: CanonicalType, nullIsDocument: boolean): Value {
  if (token.kind === 'null') return type === 'json' && nullIsDocument ? 'null' : null
  if (type === 'json') {
    switch (token.kind) {
      case 'string':
        return JSON.stringify(token.value)
      case 'number':
        return canonicalJson(token.text)
      case 'boolean':
        return String(token.value)
      case 'composite':
        return token.text
    }
  }
  if (type === 'array' && token.kind === 'composite') return parseText(token.text, type)
  switch (token.kind) {
    case 'string':
      return parseText(token.value, type)
    case 'number':
      if (type === 'integer' || type === 'decimal' || type === 'float' || type === 'timestamp') return parseText(token.text, type)
      if (type === 'text') return token.text
      throw new TypeError(`the number ${token.text} is not ${article(type)}`)
    case 'boolean':
      if (type === 'boolean') return token.value
      if (type === 'text') return String(token.value)
      throw new TypeError(`${token.value} is not ${article(type)}`)
    case 'composite':
      throw new TypeError(`the ${token.text.startsWith('[') ? 'array' : 'object'} ${token.text.length > 60 ? `${token.text.slice(0, 60)}…` : token.text} is not ${article(type)} (type the field json in the sidecar schema to keep it)`)
  }
}

function article(type: CanonicalType): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`
}
