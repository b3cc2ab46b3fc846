/**
 * Canonical JSON: the same document must give the same text whether it came
 * from SQLite (kept as written) or PostgreSQL jsonb (keys reordered,
 * duplicates dropped), or every run would see a change.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { compareText } from '../../src/values/compare.js'
import { canonicalJson, canonicalJsonFromValue } from '../../src/values/json.js'

describe('canonicalJson', () => {
  it('sorts object keys by UTF-8 order and drops insignificant whitespace, at every depth', () => {
    expect(canonicalJson('{"b": 1, "a": [1, 2]}')).toBe('{"a":[1,2],"b":1}')
    expect(canonicalJson(' {\n\t"z": {"y": [ {"d": null, "c": true} ], "x": false}, "a": "" }\r\n')).toBe('{"a":"","z":{"x":false,"y":[{"c":true,"d":null}]}}')
    expect(canonicalJson('{"😀":1,"\uffff":2,"é":3,"Z":4,"a":5}')).toBe('{"Z":4,"a":5,"é":3,"\uffff":2,"😀":1}')
  })

  it('keeps the written digits of numbers, never passing them through a double', () => {
    expect(canonicalJson('[9007199254740993, 0.1000000000000000055, 1.50, -0.25, 0]')).toBe('[9007199254740993,0.1000000000000000055,1.50,-0.25,0]')
    const long = `1${'0'.repeat(1000)}.${'9'.repeat(500)}`
    expect(canonicalJson(`{"n":${long}}`)).toBe(`{"n":${long}}`)
  })

  // PostgreSQL's jsonb stores numbers as numeric and prints them this way; a
  // document read from SQLite, MariaDB or a file must say them the same way,
  // or a sync into PostgreSQL would rewrite it on every run (found by
  // test/fidelity). Outputs checked against PostgreSQL 15's '…'::jsonb::text.
  it('spells numbers as jsonb prints them: exponents expanded with the implied scale, zero without a sign', () => {
    expect(canonicalJson('[1e2, 1E+2, 0.1e1, 2.50e1, 1.500e1, 1.5E-3, 1e-3, -12.5e-1, 123.456e1, 0.001e5, 10e-1, 0.00e1]')).toBe('[100,100,1,25.0,15.00,0.0015,0.001,-1.25,1234.56,100,1.0,0.0]')
    expect(canonicalJson('[-0, -0.0, -0e5, 0.000e-2, -0.000]')).toBe('[0,0.0,0,0.00000,0.000]')
    expect(canonicalJson('{"a":[{"b":1e400}]}')).toBe(`{"a":[{"b":1${'0'.repeat(400)}}]}`)
    expect(canonicalJson('12e-16383')).toBe(`0.${'0'.repeat(16381)}12`)
  })

  it('leaves numbers too large for jsonb as written (PostgreSQL refuses them; expanding them would only waste memory)', () => {
    expect(canonicalJson('[1e131072, 1e-16384, 0e-20000, 1e99999999999999999999]')).toBe('[1e131072,1e-16384,0e-20000,1e99999999999999999999]')
    expect(canonicalJson('1e131071')).toBe(`1${'0'.repeat(131071)}`)
    expect(canonicalJson('0e200000')).toBe('0')
  })

  it('writes strings in one spelling of their escapes', () => {
    expect(canonicalJson('"\\u00e9\\/\\u0041"')).toBe('"é/A"')
    expect(canonicalJson('{"\\u0061":"tab\\there \\"q\\" \\\\"}')).toBe('{"a":"tab\\there \\"q\\" \\\\"}')
    expect(canonicalJson('"\\ud83d\\ude00"')).toBe('"😀"')
  })

  it('keeps the last value of a repeated key, like JSON.parse and jsonb', () => {
    expect(canonicalJson('{"a":1,"b":2,"a":3}')).toBe('{"a":3,"b":2}')
  })

  it('accepts scalars at the top level', () => {
    expect(canonicalJson(' 5 ')).toBe('5')
    expect(canonicalJson('"text"')).toBe('"text"')
    expect(canonicalJson('null')).toBe('null')
    expect(canonicalJson('[]')).toBe('[]')
    expect(canonicalJson('{ }')).toBe('{}')
  })

  it('rejects what is not JSON with the position', () => {
    for (const text of ['', '{', '{"a":}', '[1,]', '{"a" 1}', 'tru', '01', '{"a":1} x', "{'a':1}", '[1 2]', '"open', 'NaN', '+1', '.5']) {
      expect(() => canonicalJson(text), text).toThrow(/invalid JSON at character \d+/)
    }
  })

  it('is stable and means what JSON.parse means, for any JSON value', () => {
    fc.assert(
      fc.property(fc.json({ maxDepth: 4 }), (text) => {
        const canonical = canonicalJson(text)
        expect(canonicalJson(canonical)).toBe(canonical)
        expect(JSON.parse(canonical)).toEqual(JSON.parse(text))
        // Reordering keys does not change the canonical text.
        const reordered = JSON.stringify(JSON.parse(text), (_key, value: unknown) =>
          value && typeof value === 'object' && !Array.isArray(value) ? Object.fromEntries(Object.entries(value).reverse()) : value,
        )
        expect(canonicalJson(reordered)).toBe(canonicalJson(JSON.stringify(JSON.parse(text))))
      }),
      { numRuns: 500 },
    )
  })

  it('orders keys with compareText at every level', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ unit: 'binary', maxLength: 4 }), fc.integer()), (object) => {
        const keys = Object.keys(JSON.parse(canonicalJson(JSON.stringify(object))) as object)
        expect(keys).toEqual([...keys].sort(compareText))
      }),
    )
  })
})

describe('canonicalJsonFromValue', () => {
  it('serializes values canonically, bigints exactly', () => {
    expect(canonicalJsonFromValue({ b: [1, 'x'], a: { d: null, c: true } })).toBe('{"a":{"c":true,"d":null},"b":[1,"x"]}')
    expect(canonicalJsonFromValue({ id: 9007199254740993n, list: [-(2n ** 63n)] })).toBe('{"id":9007199254740993,"list":[-9223372036854775808]}')
    expect(canonicalJsonFromValue('text')).toBe('"text"')
  })
})
