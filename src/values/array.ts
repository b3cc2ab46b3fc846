/**
 * Canonical array values: the canonical JSON text of a one-dimensional array
 * whose elements are in their canonical forms, so arrays compare, hash and
 * order as strings like every other string-valued type, and the same array
 * read from PostgreSQL `text[]`, a MySQL `SET`, a JSON column or a file is
 * the same string.
 *
 * | element type | JSON element                                          |
 * |--------------|-------------------------------------------------------|
 * | integer      | number, all digits (`9007199254740993`)               |
 * | float        | number; `"NaN"`, `"Infinity"`, `"-Infinity"` strings  |
 * | boolean      | `true` / `false`                                      |
 * | json         | the element's canonical JSON                          |
 * | bytes        | base64 string                                         |
 * | others       | string: the canonical text (decimal `"12.50"`, text)  |
 *
 * A null element is `null`; the empty array is `[]`.
 * @example canonicalArray(['a', null, 'b,c'], 'text') // '["a",null,"b,c"]'
 */
import type { CanonicalType, Value } from './canonical.js'
import { canonicalJson } from './json.js'

/** The canonical array text for elements that are canonical values of `elementType`. */
export function canonicalArray(elements: readonly Value[], elementType: CanonicalType): string {
  return `[${elements.map((e) => elementJson(e, elementType)).join(',')}]`
}

/** One element of a canonical array as JSON (see the table above). */
export function elementJson(value: Value, elementType: CanonicalType): string {
  if (value === null) return 'null'
  if (typeof value === 'boolean' || typeof value === 'bigint') return String(value)
  if (typeof value === 'number') return Number.isFinite(value) ? canonicalJson(String(value)) : JSON.stringify(String(value))
  if (value instanceof Uint8Array) return JSON.stringify(Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64'))
  if (elementType === 'json') return canonicalJson(value)
  if (elementType === 'integer' || elementType === 'float') return canonicalJson(value)
  return JSON.stringify(value)
}

/**
 * The elements of a JSON array as text: strings unquoted, numbers with all
 * their digits, `true`/`false`, nested arrays and objects as canonical JSON,
 * null as null. Throws a TypeError when the text is not a JSON array.
 * @example arrayElements('["a",1,null]') // ['a', '1', null]
 */
export function arrayElements(text: string): (string | null)[] {
  return arrayTokens(text).map(tokenText)
}

/** A JSON element's text: a string unquoted, null as null, anything else as written. */
export function tokenText(token: string): string | null {
  return token === 'null' ? null : token.startsWith('"') ? (JSON.parse(token) as string) : token
}

/**
 * The elements of a JSON array as canonical JSON texts (`"a"`, `1`,
 * `null`, `[1,2]`). Throws a TypeError when the text is not a JSON array.
 */
export function arrayTokens(text: string): string[] {
  let json: string
  try {
    json = canonicalJson(text)
  } catch {
    throw new TypeError('it is not a JSON array')
  }
  if (!json.startsWith('[')) throw new TypeError('it is not a JSON array')
  const out: string[] = []
  let pos = 1
  while (pos < json.length - 1) {
    const end = elementEnd(json, pos)
    out.push(json.slice(pos, end))
    pos = end + 1
  }
  return out
}

/** Whether an element (a JSON text from {@link arrayTokens}) is a nested array or object: a multi-dimensional array. */
export function isNested(token: string): boolean {
  return token.startsWith('[') || token.startsWith('{')
}

/** Where the element starting at `pos` of canonical JSON (no spaces) ends. */
function elementEnd(json: string, pos: number): number {
  let depth = 0
  for (let i = pos; i < json.length; i++) {
    const c = json[i]
    if (c === '"') {
      for (i++; json[i] !== '"'; i++) if (json[i] === '\\') i++
    } else if (c === '[' || c === '{') depth++
    else if (c === ']' || c === '}') {
      if (depth === 0) return i
      depth--
    } else if (c === ',' && depth === 0) return i
  }
  return json.length - 1
}

/**
 * A canonical array from JSON text: each element checked and put in the
 * canonical form of `elementType` (numbers for integers, strings for text…).
 * Throws a TypeError naming the first element that does not fit.
 * @example arrayFromJson('[1, 2]', 'text') // '["1","2"]'
 */
export function arrayFromJson(text: string, elementType: CanonicalType): string {
  const tokens = arrayTokens(text)
  if (elementType !== 'json' && tokens.some(isNested)) throw new TypeError('it has nested arrays or objects (only one-dimensional arrays are supported)')
  return canonicalArray(
    tokens.map((token, i) => {
      const e = tokenText(token)
      if (e === null) return null
      if (elementType === 'json') return token
      switch (elementType) {
        case 'integer':
          if (!/^-?\d+$/.test(e)) throw new TypeError(`element ${i + 1} (${e}) is not an integer`)
          return BigInt(e)
        case 'float': {
          const n = Number(e)
          if (Number.isNaN(n) && e !== 'NaN') throw new TypeError(`element ${i + 1} (${e}) is not a number`)
          return n
        }
        case 'boolean':
          if (e !== 'true' && e !== 'false') throw new TypeError(`element ${i + 1} (${e}) is not a boolean`)
          return e === 'true'
        default:
          return e
      }
    }),
    elementType,
  )
}

/**
 * The allowed-values check of an enum (or of a SET's members): undefined
 * when every value is allowed, else the message naming the allowed values.
 */
export function enumViolation(values: readonly (string | null)[], allowed: readonly string[] | undefined): string | undefined {
  if (!allowed) return undefined
  const bad = values.find((v) => v !== null && !allowed.includes(v))
  if (bad === undefined || bad === null) return undefined
  return `'${bad}' is not one of the allowed values (${allowed.map((a) => `'${a}'`).join(', ')})`
}
