/**
 * Parsing one NDJSON line without losing digits. `JSON.parse` turns every
 * number into a double, so `9223372036854775807` and `0.1000000000000000055`
 * would silently change; here numbers keep the text they were written with,
 * nested objects and arrays become canonical JSON text, and each value
 * remembers where it sits in the line (to name the field of a bad byte).
 */
import { canonicalJson } from '../../values/json.js'

/** One top-level value of an NDJSON object. */
export type JsonToken =
  | { kind: 'string'; value: string }
  | { kind: 'number'; text: string }
  | { kind: 'boolean'; value: boolean }
  | { kind: 'null' }
  /** An object or array, as canonical JSON text. */
  | { kind: 'composite'; text: string }

/** A parsed line: field name → token, in the order written. */
export interface JsonLine {
  entries: Map<string, JsonToken>
  /** Where each field's value starts and ends (UTF-16 offsets into the line). */
  spans: Map<string, [number, number]>
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y
const WHITESPACE = ' \t\n\r'

/**
 * Parse a line that must hold one JSON object. Throws a TypeError naming the
 * character position when it is not one.
 * @example parseJsonLine('{"id": 9007199254740993}').entries.get('id') // { kind: 'number', text: '9007199254740993' }
 */
export function parseJsonLine(line: string): JsonLine {
  const parser = new LineParser(line)
  return parser.object()
}

class LineParser {
  private pos = 0
  constructor(private readonly text: string) {}

  object(): JsonLine {
    const entries = new Map<string, JsonToken>()
    const spans = new Map<string, [number, number]>()
    this.space()
    if (this.text[this.pos] !== '{') this.fail('expected a JSON object ({…}) on the line')
    this.pos++
    this.space()
    if (this.text[this.pos] === '}') {
      this.pos++
    } else {
      for (;;) {
        this.space()
        if (this.text[this.pos] !== '"') this.fail('expected a field name in double quotes')
        const name = this.string()
        this.space()
        if (this.text[this.pos++] !== ':') this.fail("expected ':' after the field name")
        this.space()
        const start = this.pos
        const token = this.value()
        // A repeated name keeps its last value, as JSON.parse does.
        entries.delete(name)
        entries.set(name, token)
        spans.set(name, [start, this.pos])
        this.space()
        const c = this.text[this.pos++]
        if (c === '}') break
        if (c !== ',') this.fail("expected ',' or '}'")
      }
    }
    this.space()
    if (this.pos < this.text.length) this.fail('unexpected text after the JSON object')
    return { entries, spans }
  }

  private value(): JsonToken {
    const c = this.text[this.pos]
    if (c === '"') return { kind: 'string', value: this.string() }
    if (c === '{' || c === '[') {
      const start = this.pos
      this.skipComposite()
      try {
        return { kind: 'composite', text: canonicalJson(this.text.slice(start, this.pos)) }
      } catch (error) {
        this.pos = start
        return this.fail((error as Error).message)
      }
    }
    for (const [word, token] of WORDS) {
      if (this.text.startsWith(word, this.pos)) {
        this.pos += word.length
        return token
      }
    }
    NUMBER.lastIndex = this.pos
    const match = NUMBER.exec(this.text)
    if (!match) return this.fail('expected a JSON value')
    this.pos += match[0].length
    return { kind: 'number', text: match[0] }
  }

  private string(): string {
    const start = this.pos
    this.pos++
    while (this.pos < this.text.length) {
      const c = this.text[this.pos]
      if (c === '\\') this.pos += 2
      else if (c === '"') {
        this.pos++
        try {
          return JSON.parse(this.text.slice(start, this.pos)) as string
        } catch {
          this.pos = start
          return this.fail('invalid string (a control character or a bad escape)')
        }
      } else this.pos++
    }
    this.pos = start
    return this.fail('a string is not closed')
  }

  /** Move past a balanced object or array; canonicalJson checks its content. */
  private skipComposite(): void {
    let depth = 0
    while (this.pos < this.text.length) {
      const c = this.text[this.pos]
      if (c === '"') {
        this.string()
        continue
      }
      this.pos++
      if (c === '{' || c === '[') depth++
      else if (c === '}' || c === ']') {
        depth--
        if (depth === 0) return
      }
    }
    this.fail('an object or array is not closed')
  }

  private space(): void {
    while (this.pos < this.text.length && WHITESPACE.includes(this.text[this.pos]!)) this.pos++
  }

  private fail(message: string): never {
    throw new TypeError(`${message} at character ${this.pos + 1}`)
  }
}

const WORDS: readonly [string, JsonToken][] = [
  ['true', { kind: 'boolean', value: true }],
  ['false', { kind: 'boolean', value: false }],
  ['null', { kind: 'null' }],
]
