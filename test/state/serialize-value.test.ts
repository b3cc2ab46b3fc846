/**
 * The value encoding behind watermarks and positions: anything the engine
 * resumes from must come back exactly, and stored text must stay readable.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { decodeStateValue, encodeStateValue, toReadableJson } from '../../src/state/serialize-value.js'

const canonicalValue = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.double(), // includes NaN, ±Infinity and -0
  fc.bigInt({ min: -(2n ** 128n), max: 2n ** 128n }),
  fc.string({ unit: 'grapheme' }),
  fc.string(),
  fc.uint8Array({ maxLength: 40 }),
)

describe('encodeStateValue / decodeStateValue', () => {
  it('round-trips every canonical value and key array exactly', () => {
    fc.assert(
      fc.property(fc.oneof(canonicalValue, fc.array(canonicalValue, { maxLength: 6 })), (value) => {
        const back = decodeStateValue(encodeStateValue(value))
        expect(back).toEqual(value)
        if (typeof value === 'number') expect(Object.is(back, value)).toBe(true)
      }),
      { numRuns: 2000 },
    )
  })

  it('round-trips plain objects, including ones that look like tags', () => {
    const value = { $bigint: '1', nested: [{ $bytes: 'AA==' }, { $object: 1 }], n: 2n ** 70n, raw: new Uint8Array([0, 0]) }
    expect(decodeStateValue(encodeStateValue(value))).toEqual(value)
    expect(decodeStateValue(encodeStateValue({ $bigint: '5' }))).toEqual({ $bigint: '5' })
  })

  it('writes readable JSON that other tools can parse', () => {
    expect(encodeStateValue([2n ** 63n - 1n, new Uint8Array([0, 1, 255]), 'a', 1.5, null])).toBe(
      '[{"$bigint":"9223372036854775807"},{"$bytes":"AAH/"},"a",1.5,null]',
    )
  })

  it('accepts a Buffer (a Uint8Array view with an offset) and returns the same bytes', () => {
    const pool = Buffer.from([9, 9, 0, 1, 0, 9])
    const view = pool.subarray(2, 5)
    expect(decodeStateValue(encodeStateValue(view))).toEqual(new Uint8Array([0, 1, 0]))
  })

  it('refuses what is not a canonical value instead of storing something else', () => {
    expect(() => encodeStateValue(new Date(0))).toThrow(/Date object/)
    expect(() => encodeStateValue(new Map())).toThrow(/Map object/)
    expect(() => encodeStateValue(undefined)).toThrow(/undefined/)
  })
})

describe('toReadableJson', () => {
  it('shows bigints as digits and bytes as \\x hex, never losing digits', () => {
    const row = { id: 2n ** 64n + 1n, small: 42, raw: new Uint8Array([0, 171]), buf: Buffer.from([255]), nan: NaN, t: 'x', none: null }
    expect(JSON.parse(toReadableJson(row))).toEqual({
      id: '18446744073709551617',
      small: 42,
      raw: '\\x00ab',
      buf: '\\xff',
      nan: 'NaN',
      t: 'x',
      none: null,
    })
  })
})
