/**
 * Canonical JSON text: object keys sorted (by UTF-8 order), no insignificant
 * whitespace. PostgreSQL's jsonb reorders keys and SQLite keeps them as
 * written, so without this the same document would look changed on every run.
 *
 * Numbers keep their written digits: a JSON number is never passed through a
 * double, so 9007199254740993 and 0.1000000000000000055 survive. Only their
 * spelling is normalized the way jsonb prints them (see {@link canonicalNumber}).
 */
import { compareText } from './compare.js'

/** A number, `true`, `false` or `null` exactly at `lastIndex` (sticky), however long the number. */
const SCALAR = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null/y

/** Beyond these PostgreSQL's numeric (and so jsonb) refuses a number: "value overflows numeric format". */
const PG_NUMERIC_MAX_INTEGER_DIGITS = 131_072
const PG_NUMERIC_MAX_SCALE = 16_383

/**
 * A JSON number spelled the way PostgreSQL's jsonb prints it. jsonb stores
 * numbers as numeric, so it rewrites `1e2` as `100` and `-0` as `0`; SQLite,
 * MariaDB and files keep the text as written. Without this, a document with
 * such a number would read differently on the two sides of a sync and be
 * rewritten on every run. The rules are numeric's: the exponent is expanded,
 * the fraction keeps the digits the mantissa implies (`2.50e1` → `25.0`,
 * `1.5e-3` → `0.0015`), and zero has no sign (`-0.0` → `0.0`). No digit is
 * ever dropped. A number too large for numeric is left as written (jsonb
 * refuses it, and expanding `1e999999999` would only waste memory).
 */
function canonicalNumber(text: string): string {
  const e = text.search(/[eE]/)
  if (e < 0) return text.startsWith('-0') && /^-0(?:\.0+)?$/.test(text) ? text.slice(1) : text
  const exponent = Number(text.slice(e + 1))
  const negative = text.startsWith('-')
  const mantissa = text.slice(negative ? 1 : 0, e)
  const dot = mantissa.indexOf('.')
  const fraction = dot < 0 ? '' : mantissa.slice(dot + 1)
  const digits = (dot < 0 ? mantissa : mantissa.slice(0, dot) + fraction).replace(/^0+(?=\d)/, '')
  const zero = digits === '0'
  // The value is digits × 10^shift, printed with `scale` fraction digits.
  const shift = exponent - fraction.length
  const scale = Math.max(0, -shift)
  if (scale > PG_NUMERIC_MAX_SCALE || (!zero && digits.length + shift > PG_NUMERIC_MAX_INTEGER_DIGITS)) return text
  let body: string
  if (shift >= 0) body = zero ? '0' : digits + '0'.repeat(shift)
  else {
    const padded = digits.padStart(scale + 1, '0')
    body = `${padded.slice(0, -scale).replace(/^0+(?=\d)/, '')}.${padded.slice(-scale)}`
  }
  return negative && !zero ? `-${body}` : body
}

type Token = { kind: 'raw'; text: string } | { kind: 'array'; items: Token[] } | { kind: 'object'; entries: [string, Token][] }

/**
 * Canonicalize JSON text. Throws a TypeError naming the position when the
 * text is not JSON.
 * @example canonicalJson('{"b": 1, "a": [1, 2]}') // '{"a":[1,2],"b":1}'
 */
export function canonicalJson(text: string): string {
  const parser = new Parser(text)
  const value = parser.value()
  parser.skipSpace()
  if (parser.pos !== text.length) parser.fail('unexpected text after the JSON value')
  return render(value)
}

/** Canonical JSON for a JavaScript value (objects, arrays, numbers, strings…). */
export function canonicalJsonFromValue(value: unknown): string {
  // Node 20 has no JSON.rawJSON: mark bigints, then unquote them.
  const text = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `\u0000bigint:${v}` : v))
  return canonicalJson(text.replace(/"\\u0000bigint:(-?\d+)"/g, '$1'))
}

function render(token: Token): string {
  switch (token.kind) {
    case 'raw':
      return token.text
    case 'array':
      return `[${token.items.map(render).join(',')}]`
    case 'object': {
      const entries = [...token.entries].sort((a, b) => compareText(a[0], b[0]))
      return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${render(v)}`).join(',')}}`
    }
  }
}

class Parser {
  pos = 0
  constructor(private readonly text: string) {}

  fail(message: string): never {
    throw new TypeError(`invalid JSON at character ${this.pos + 1}: ${message}`)
  }

  skipSpace(): void {
    while (this.pos < this.text.length && ' \t\n\r'.includes(this.text[this.pos]!)) this.pos++
  }

  value(): Token {
    this.skipSpace()
    const c = this.text[this.pos]
    if (c === '{') return this.object()
    if (c === '[') return this.array()
    if (c === '"') return { kind: 'raw', text: JSON.stringify(this.string()) }
    SCALAR.lastIndex = this.pos
    const match = SCALAR.exec(this.text)
    if (!match) this.fail('expected a value')
    this.pos += match[0].length
    const c0 = match[0][0]
    return { kind: 'raw', text: c0 === '-' || (c0! >= '0' && c0! <= '9') ? canonicalNumber(match[0]) : match[0] }
  }

  private string(): string {
    const start = this.pos
    this.pos++
    while (this.pos < this.text.length) {
      const c = this.text[this.pos]
      if (c === '\\') this.pos += 2
      else if (c === '"') {
        this.pos++
        return JSON.parse(this.text.slice(start, this.pos)) as string
      } else this.pos++
    }
    return this.fail('unterminated string')
  }

  private array(): Token {
    this.pos++
    const items: Token[] = []
    this.skipSpace()
    if (this.text[this.pos] === ']') {
      this.pos++
      return { kind: 'array', items }
    }
    for (;;) {
      items.push(this.value())
      this.skipSpace()
      const c = this.text[this.pos++]
      if (c === ']') return { kind: 'array', items }
      if (c !== ',') this.fail("expected ',' or ']'")
    }
  }

  private object(): Token {
    this.pos++
    const entries = new Map<string, Token>()
    this.skipSpace()
    if (this.text[this.pos] === '}') {
      this.pos++
      return { kind: 'object', entries: [] }
    }
    for (;;) {
      this.skipSpace()
      if (this.text[this.pos] !== '"') this.fail('expected a property name')
      const key = this.string()
      this.skipSpace()
      if (this.text[this.pos++] !== ':') this.fail("expected ':'")
      // A repeated key keeps its last value, as JSON.parse and PostgreSQL's jsonb do.
      entries.set(key, this.value())
      this.skipSpace()
      const c = this.text[this.pos++]
      if (c === '}') return { kind: 'object', entries: [...entries] }
      if (c !== ',') this.fail("expected ',' or '}'")
    }
  }
}
