/**
 * Ordering and equality of canonical values: the full-sync merge depends on
 * compareText matching the databases' byte order, and change detection on
 * valuesEqual treating equal values as equal whatever their spelling.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { compareBytes, compareDecimals, compareKeys, compareText, compareValues, normalizeDecimal, valuesEqual } from '../../src/values/compare.js'

/** Strings built from characters around the UTF-16 / UTF-8 order boundaries, so prefixes are often shared. */
const tricky = fc
  .array(fc.constantFrom('a', 'A', 'z', 'é', '\u00ff', '\u07ff', '\u0800', '\ud7ff', '\ue000', '\uffff', '\ufffd', '😀', '\u{10000}', '\u{10ffff}', '\u0000', ' '), {
    maxLength: 6,
  })
  .map((chars) => chars.join(''))
const text = fc.oneof(fc.string({ unit: 'binary', maxLength: 12 }), fc.string({ unit: 'grapheme', maxLength: 8 }), tricky)

const sign = (n: number) => Math.sign(n) + 0

describe('compareText', () => {
  it('orders like Buffer.compare of the UTF-8 bytes (as PostgreSQL COLLATE "C", SQLite BINARY)', () => {
    fc.assert(
      fc.property(text, text, (a, b) => {
        expect(sign(compareText(a, b))).toBe(Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')))
      }),
      { numRuns: 5000 },
    )
  })

  it('differs from JavaScript < above U+FFFF, where UTF-16 order is wrong', () => {
    expect('\uffff' < '😀').toBe(false)
    expect(compareText('\uffff', '😀')).toBeLessThan(0)
    expect(compareText('\ue000', '\u{10000}')).toBeLessThan(0)
  })

  it('is antisymmetric and zero only for equal strings', () => {
    fc.assert(
      fc.property(text, text, (a, b) => {
        expect(sign(compareText(a, b))).toBe(sign(-compareText(b, a)))
        expect(compareText(a, b) === 0).toBe(a === b)
      }),
    )
  })

  it('sorts the way the merge expects: upper case before lower case, prefixes first', () => {
    expect(['b', 'a', 'B', 'A', 'ab', 'a', '', 'é', '😀', '\uffff'].sort(compareText)).toEqual(['', 'A', 'B', 'a', 'a', 'ab', 'b', 'é', '\uffff', '😀'])
  })
})

describe('compareBytes', () => {
  it('orders like memcmp (Buffer.compare)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 8 }), fc.uint8Array({ maxLength: 8 }), (a, b) => {
        expect(sign(compareBytes(a, b))).toBe(Buffer.compare(Buffer.from(a), Buffer.from(b)))
      }),
    )
  })
})

/** A decimal as text and its exact value as (digits, scale). */
const decimal = fc.tuple(fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }), fc.nat({ max: 15 }), fc.nat({ max: 3 }), fc.boolean()).map(([unscaled, scale, padding, plus]) => {
  const negative = unscaled < 0n
  const digits = (negative ? -unscaled : unscaled).toString().padStart(scale + 1, '0')
  const body = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}${'0'.repeat(padding)}`
  return { text: `${negative ? '-' : plus ? '+' : ''}${'0'.repeat(padding)}${body}`, unscaled, scale }
})

/** Exact comparison through a common scale. */
function reference(a: { unscaled: bigint; scale: number }, b: { unscaled: bigint; scale: number }): number {
  const scale = Math.max(a.scale, b.scale)
  const x = a.unscaled * 10n ** BigInt(scale - a.scale)
  const y = b.unscaled * 10n ** BigInt(scale - b.scale)
  return x < y ? -1 : x > y ? 1 : 0
}

describe('decimals', () => {
  it('compareDecimals is exact however the numbers are spelled', () => {
    fc.assert(
      fc.property(decimal, decimal, (a, b) => {
        expect(sign(compareDecimals(a.text, b.text))).toBe(reference(a, b))
      }),
      { numRuns: 3000 },
    )
  })

  it('compares beyond double precision and with exponents', () => {
    expect(compareDecimals('9007199254740993', '9007199254740992')).toBe(1)
    expect(compareDecimals('0.1000000000000000055', '0.1')).toBe(1)
    expect(compareDecimals('1.5e-7', '0.00000015')).toBe(0)
    expect(compareDecimals('-1.2E3', '-1200.000')).toBe(0)
    expect(compareDecimals(12n, '12.0')).toBe(0)
    expect(compareDecimals(-0.5, '-.5')).toBe(0)
  })

  it('normalizeDecimal gives the shortest exact text, and is stable', () => {
    expect(normalizeDecimal('012.500')).toBe('12.5')
    expect(normalizeDecimal('-0.000')).toBe('0')
    expect(normalizeDecimal('+5')).toBe('5')
    expect(normalizeDecimal('.5')).toBe('0.5')
    expect(normalizeDecimal('-1.2E3')).toBe('-1200')
    expect(normalizeDecimal('1.5e-7')).toBe('0.00000015')
    expect(normalizeDecimal(1e21)).toBe('1000000000000000000000')
    fc.assert(
      fc.property(decimal, (d) => {
        const normal = normalizeDecimal(d.text)
        expect(compareDecimals(normal, d.text)).toBe(0)
        expect(normalizeDecimal(normal)).toBe(normal)
        expect(normal).toMatch(/^-?(0|[1-9]\d*)(\.\d*[1-9])?$/)
      }),
    )
  })
})

describe('compareValues and compareKeys', () => {
  it('sorts NULL first and integers exactly, numbers against bigints', () => {
    expect(compareValues('integer', null, 0)).toBeLessThan(0)
    expect(compareValues('text', null, null)).toBe(0)
    expect(compareValues('integer', 9007199254740993n, 9007199254740992)).toBeGreaterThan(0)
    expect(compareValues('integer', -(2n ** 63n), 2n ** 63n - 1n)).toBeLessThan(0)
    expect(compareValues('integer', 5, 5n)).toBe(0)
  })

  it('orders floats, infinities included, with NaN last', () => {
    const values = [Number.NaN, Infinity, 1, -Infinity, 0, -1.5, Number.MAX_VALUE]
    expect([...values].sort((a, b) => compareValues('float', a, b))).toEqual([-Infinity, -1.5, 0, 1, Number.MAX_VALUE, Infinity, Number.NaN])
    expect(compareValues('float', Infinity, Infinity)).toBe(0)
    expect(compareValues('float', Number.NaN, Number.NaN)).toBe(0)
  })

  it('orders decimals numerically, text and timestamps by bytes, booleans false first', () => {
    expect(compareValues('decimal', '9.5', '10')).toBeLessThan(0)
    expect(compareValues('timestamp', '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000001Z')).toBeLessThan(0)
    expect(compareValues('boolean', false, true)).toBeLessThan(0)
    expect(compareValues('bytes', new Uint8Array([1]), new Uint8Array([1, 0]))).toBeLessThan(0)
  })

  it('compares composite keys field by field', () => {
    const types = ['integer', 'text'] as const
    expect(compareKeys(types, [1, 'b'], [1, 'a'])).toBeGreaterThan(0)
    expect(compareKeys(types, [1, 'z'], [2, 'a'])).toBeLessThan(0)
    expect(compareKeys(types, [2n, 'a'], [2, 'a'])).toBe(0)
  })
})

describe('valuesEqual', () => {
  it('treats equal values as equal whatever their representation', () => {
    expect(valuesEqual('decimal', '1.50', '1.5')).toBe(true)
    expect(valuesEqual('decimal', '1.50', '1.51')).toBe(false)
    expect(valuesEqual('integer', 5, 5n)).toBe(true)
    expect(valuesEqual('integer', 2n ** 63n - 1n, 2n ** 63n - 2n)).toBe(false)
    expect(valuesEqual('bytes', new Uint8Array([0, 1]), Buffer.from([0, 1]))).toBe(true)
    expect(valuesEqual('bytes', new Uint8Array([0, 1]), new Uint8Array([0, 1, 0]))).toBe(false)
    expect(valuesEqual('float', Number.NaN, Number.NaN)).toBe(true)
    expect(valuesEqual('float', 0.1 + 0.2, 0.3)).toBe(false)
    expect(valuesEqual('boolean', true, true)).toBe(true)
  })

  it('never equates NULL with a value, including empty text and zero', () => {
    for (const [type, value] of [['text', ''], ['integer', 0], ['boolean', false], ['bytes', new Uint8Array()]] as const) {
      expect(valuesEqual(type, null, value)).toBe(false)
      expect(valuesEqual(type, value, null)).toBe(false)
    }
    expect(valuesEqual('text', null, null)).toBe(true)
  })
})
