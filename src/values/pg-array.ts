/**
 * PostgreSQL's array text (`{a,"b c",NULL}`) to canonical array values
 * (src/values/array.ts) and back. Both the PostgreSQL connector and the
 * common COPY text format (copy-text.ts) write arrays this way.
 *
 * Multi-dimensional arrays (`{{1,2},{3,4}}`) read as nested JSON arrays, so
 * no value is lost or flattened; a destination that only holds
 * one-dimensional arrays (MySQL `SET`) rejects such a record.
 */
import { arrayTokens, elementJson, tokenText } from './array.js'
import type { CanonicalType, Value } from './canonical.js'

/**
 * Parse PostgreSQL array text exactly: quoted elements with backslash
 * escapes, unquoted `NULL` (any case) as null, `"NULL"` as the text, the
 * empty array `{}`, an optional bounds prefix (`[0:1]={…}`). Each element's
 * text goes through `element` (the element type's own parser).
 * @example parsePgArray('{a,"b,c",NULL}', (t) => t, 'text') // '["a","b,c",null]'
 */
export function parsePgArray(text: string, element: (text: string) => unknown, elementType: CanonicalType): string {
  let pos = 0
  if (text.startsWith('[')) {
    pos = text.indexOf('=') + 1
    if (pos === 0) throw new TypeError('malformed array bounds')
  }
  const fail = (what: string): never => {
    throw new TypeError(`malformed array literal at character ${pos + 1}: ${what}`)
  }
  const list = (): string => {
    if (text[pos] !== '{') fail("expected '{'")
    pos++
    const items: string[] = []
    if (text[pos] === '}') {
      pos++
      return '[]'
    }
    for (;;) {
      while (text[pos] === ' ') pos++
      if (text[pos] === '{') items.push(list())
      else if (text[pos] === '"') {
        let value = ''
        for (pos++; text[pos] !== '"'; pos++) {
          if (pos >= text.length) fail('unterminated quoted element')
          if (text[pos] === '\\') pos++
          value += text[pos]
        }
        pos++
        items.push(elementJson(element(value) as Value, elementType))
      } else {
        const start = pos
        while (pos < text.length && text[pos] !== ',' && text[pos] !== '}') {
          if (text[pos] === '\\') pos++
          pos++
        }
        const raw = text.slice(start, pos).trim()
        if (raw === '') fail('empty element')
        items.push(/^null$/i.test(raw) ? 'null' : elementJson(element(raw.replace(/\\(.)/g, '$1')) as Value, elementType))
      }
      while (text[pos] === ' ') pos++
      const c = text[pos++]
      if (c === '}') return `[${items.join(',')}]`
      if (c !== ',') fail("expected ',' or '}'")
    }
  }
  const out = list()
  if (pos !== text.length) fail('text after the array')
  return out
}

/**
 * A canonical array value as PostgreSQL array text: every element quoted
 * and escaped, null elements as `NULL`, bytes (base64 in the canonical
 * form) as `\x` hex, nested arrays as inner braces.
 * @example formatPgArray('["a",null,"b\\"c"]', 'text') // '{"a",NULL,"b\\"c"}'
 */
export function formatPgArray(json: string, elementType: CanonicalType): string {
  const parts = arrayTokens(json).map((token) => {
    const e = tokenText(token)
    if (e === null) return 'NULL'
    if (elementType !== 'json' && token.startsWith('[')) return formatPgArray(token, elementType)
    const text = elementType === 'bytes' ? `\\x${Buffer.from(e, 'base64').toString('hex')}` : e
    return `"${text.replace(/[\\"]/g, '\\$&')}"`
  })
  return `{${parts.join(',')}}`
}

