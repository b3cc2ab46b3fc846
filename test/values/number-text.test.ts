/**
 * Number text without `String(number)` (the bulk encoders' way around V8's
 * number-string cache): the same text `String` gives, or undefined.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { integerText, shortDecimalText } from '../../src/values/number-text.js'

describe('integerText', () => {
  it('is String(n) for every safe integer', () => {
    for (const n of [0, 1, 9, 10, 9999, 10000, 10001, 99999999, 100000000, 100010001, -1, -10000, -100000000, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]) {
      expect(integerText(n), String(n)).toBe(String(n))
    }
    fc.assert(fc.property(fc.maxSafeInteger(), (n) => integerText(n) === String(n)))
    fc.assert(fc.property(fc.integer({ min: -1e9, max: 1e9 }), (n) => integerText(n) === String(n)))
  })
})

describe('shortDecimalText', () => {
  it('is String(x) for a double of at most `scale` decimals, the common REAL decimal', () => {
    const cases: [number, number, string][] = [
      [12.34, 2, '12.34'],
      [12.3, 2, '12.3'],
      [12, 2, '12'],
      [-0.05, 2, '-0.05'],
      [0, 2, '0'],
      [-0, 2, '0'],
      [-1234.5, 4, '-1234.5'],
      [123456789.123456, 6, '123456789.123456'],
      [1e-6, 6, '0.000001'],
      [42, 0, '42'],
      [-42, 0, '-42'],
      [9999999999999.99, 2, '9999999999999.99'],
    ]
    for (const [x, scale, text] of cases) {
      expect(shortDecimalText(x, scale), `${x} at scale ${scale}`).toBe(text)
      expect(text).toBe(String(x))
    }
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 6 }), fc.integer({ min: -(10 ** 14), max: 10 ** 14 }), (scale, k) => {
        const x = k / 10 ** scale
        return shortDecimalText(x, scale) === String(x)
      }),
    )
  })

  it('gives up (undefined) on anything else, and is never another text than String(x)', () => {
    // More decimals than the scale, 15 digits or more, an exponent form, a scale past 6, not finite.
    for (const [x, scale] of [
      [0.30000000000000004, 2],
      [1.005, 2],
      [1e-7, 7],
      [1e-7, 6],
      [1e15, 0],
      [123456789012345.6, 1],
      [0.5, 7],
      [Infinity, 2],
      [NaN, 2],
    ] as const) {
      expect(shortDecimalText(x, scale), `${x} at scale ${scale}`).toBeUndefined()
    }
    fc.assert(
      fc.property(fc.double(), fc.integer({ min: 0, max: 8 }), (x, scale) => {
        const text = shortDecimalText(x, scale)
        return text === undefined || text === String(x)
      }),
    )
  })
})
