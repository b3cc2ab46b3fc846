/**
 * Splits a transform into tokens. The language is deliberately tiny: names,
 * quoted names, 'text', numbers, parentheses, commas and `||`. Anything else
 * (`.`, `;`, `=`, `+`…) is an error here, which is one of the reasons no
 * transform can ever reach JavaScript code.
 */
import { TransformSyntaxError } from './errors.js'

/** What a token is. */
export type TokenKind = 'name' | 'quoted-name' | 'text' | 'number' | '(' | ')' | ',' | '||' | '-' | 'end'

/** One token; `value` is the unescaped content for names, text and numbers. */
export interface Token {
  kind: TokenKind
  value: string
  /** 0-based index of the first character. */
  position: number
}

const NAME = /[\p{L}_][\p{L}\p{M}\p{N}_$]*/uy
const NUMBER = /(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/y
const SPACE = /\s+/y

const OPERATOR_HINT = 'the transform language has no operators besides ||; use a function such as CONCAT, REPLACE or ROUND'

/** Read the quoted span starting at `start` (the quote); doubled quotes escape themselves. */
function readQuoted(text: string, start: number, quote: string, what: string): { value: string; end: number } {
  let value = ''
  let i = start + 1
  for (;;) {
    const close = text.indexOf(quote, i)
    if (close < 0) throw new TransformSyntaxError(text, start, `${what} is never closed`, { hint: `; end it with ${quote}` })
    value += text.slice(i, close)
    if (text[close + 1] === quote) {
      value += quote
      i = close + 2
    } else {
      return { value, end: close + 1 }
    }
  }
}

/**
 * The tokens of `text`, ending with an `end` token at `text.length`.
 * Throws {@link TransformSyntaxError} at the first character that cannot start a token.
 */
export function tokenize(text: string): Token[] {
  const tokens: Token[] = []
  let i = 0
  const match = (pattern: RegExp): string | undefined => {
    pattern.lastIndex = i
    return pattern.exec(text)?.[0]
  }
  while (i < text.length) {
    const space = match(SPACE)
    if (space) {
      i += space.length
      continue
    }
    const c = text[i]!
    if (c === "'") {
      const { value, end } = readQuoted(text, i, "'", 'this text')
      tokens.push({ kind: 'text', value, position: i })
      i = end
    } else if (c === '"' || c === '`') {
      const { value, end } = readQuoted(text, i, c, 'this field name')
      if (value === '') throw new TransformSyntaxError(text, i, 'a quoted field name cannot be empty')
      tokens.push({ kind: 'quoted-name', value, position: i })
      i = end
    } else if (c === '(' || c === ')' || c === ',' || c === '-') {
      tokens.push({ kind: c, value: c, position: i })
      i++
    } else if (c === '|') {
      if (text[i + 1] !== '|') throw new TransformSyntaxError(text, i, "unexpected '|'", { hint: '; join text with ||' })
      tokens.push({ kind: '||', value: '||', position: i })
      i += 2
    } else {
      const number = match(NUMBER)
      const name = number === undefined ? match(NAME) : undefined
      const exponent = number === undefined ? undefined : /[eE]([+-]?\d+)$/.exec(number)?.[1]
      if (exponent !== undefined && Math.abs(Number(exponent)) > 1000) throw new TransformSyntaxError(text, i, `the exponent of ${number} is too large`)
      if (number !== undefined) {
        NAME.lastIndex = i + number.length
        const rest = NAME.exec(text)?.[0]
        if (rest !== undefined && !/^[eE]/.test(rest)) {
          const written = number + rest
          throw new TransformSyntaxError(text, i, `'${written}' is not a number, and a field name cannot start with a digit`, {
            hint: `; quote the field: "${written}"`,
          })
        }
      }
      if (number !== undefined) tokens.push({ kind: 'number', value: number, position: i })
      else if (name !== undefined) tokens.push({ kind: 'name', value: name, position: i })
      else {
        const shown = String.fromCodePoint(text.codePointAt(i)!)
        const hint = '+*/=<>!%&^~'.includes(c) ? `; ${OPERATOR_HINT}` : ''
        throw new TransformSyntaxError(text, i, `unexpected character '${shown}'`, { hint })
      }
      i += (number ?? name)!.length
    }
  }
  tokens.push({ kind: 'end', value: '', position: text.length })
  return tokens
}
