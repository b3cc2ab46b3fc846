import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { CanonicalType, KeyValues } from '../../src/values/canonical.js'
import { compareKeys } from '../../src/values/compare.js'
import { decodeSortKey, sortKey, sortKeyEncodable, sortKeyHex } from '../../src/values/sort-key.js'

const sign = (n: number) => Math.sign(n)

/** Byte order of the encodings must be compareKeys' order, for every pair. */
function sameOrder(types: CanonicalType[], a: KeyValues, b: KeyValues): void {
  const ea = sortKey(types, a)!
  const eb = sortKey(types, b)!
  expect(sign(Buffer.compare(ea, eb)), `${String(a)} vs ${String(b)}`).toBe(sign(compareKeys(types, a, b)))
}

const integer = fc.oneof(fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }), fc.bigInt({ min: -(2n ** 200n), max: 2n ** 200n }), fc.constantFrom(0, -1, 1, 255, 256, -255, -256))
// Full Unicode, NULs included: text sorts by UTF-8 bytes, also above U+FFFF.
const text = fc.string({ unit: 'grapheme', maxLength: 12 }).map((s) => s.replace(/x/g, '\u0000'))

describe('sortKey', () => {
  it('orders integers of any size and sign as compareKeys does', () => {
    fc.assert(fc.property(integer, integer, (a, b) => sameOrder(['integer'], [a], [b])), { numRuns: 2000 })
  })

  it('orders text by UTF-8 bytes, with NULs and prefixes, as compareKeys does', () => {
    fc.assert(fc.property(text, text, (a, b) => sameOrder(['text'], [a], [b])), { numRuns: 2000 })
    sameOrder(['text'], ['\uffff'], ['\u{1f600}'])
    sameOrder(['text'], ['a'], ['a\u0000'])
  })

  it('orders composite keys field by field: a shorter first field never lets the second decide', () => {
    fc.assert(fc.property(text, integer, text, integer, (a1, a2, b1, b2) => sameOrder(['text', 'integer'], [a1, a2], [b1, b2])), { numRuns: 2000 })
    sameOrder(['text', 'text'], ['a', 'z'], ['ab', 'a'])
  })

  it('orders bytes and booleans as compareKeys does', () => {
    const bytes = fc.uint8Array({ maxLength: 8 })
    fc.assert(fc.property(bytes, bytes, fc.boolean(), fc.boolean(), (a, b, x, y) => {
      sameOrder(['bytes'], [a], [b])
      sameOrder(['boolean'], [x], [y])
    }))
  })

  it('spells the same encoding as hex from a row, fast path for non-negative integers included', () => {
    fc.assert(fc.property(integer, text, (n, t) => {
      expect(sortKeyHex(['integer'], { id: n }, ['id'])).toBe(sortKey(['integer'], [n])!.toString('hex'))
      expect(sortKeyHex(['text', 'integer'], { a: t, b: n }, ['a', 'b'])).toBe(sortKey(['text', 'integer'], [t, n])!.toString('hex'))
    }), { numRuns: 2000 })
    for (const n of [0, 1, 15, 16, 255, 256, 4095, 4096, 2 ** 52, Number.MAX_SAFE_INTEGER]) expect(sortKeyHex(['integer'], { id: n }, ['id'])).toBe(sortKey(['integer'], [n])!.toString('hex'))
    expect(sortKeyHex(['integer'], { id: null }, ['id'])).toBeUndefined()
  })

  it('orders decimals by value, exactly, as compareKeys does; 1.50 and 1.5 are one key', () => {
    const decimal = fc
      .tuple(fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }), fc.integer({ min: 0, max: 12 }), fc.integer({ min: 0, max: 3 }))
      .map(([digits, scale, zeros]) => {
        const abs = (digits < 0n ? -digits : digits).toString().padStart(scale + 1, '0')
        const text = scale === 0 ? abs : `${abs.slice(0, -scale)}.${abs.slice(-scale)}${'0'.repeat(zeros)}`
        return digits < 0n ? `-${text}` : text
      })
    fc.assert(fc.property(decimal, decimal, text, (a, b, t) => {
      sameOrder(['decimal'], [a], [b])
      sameOrder(['decimal', 'text'], [a, t], [b, t])
      expect(compareKeys(['decimal'], decodeSortKey(['decimal'], sortKey(['decimal'], [a])!), [a])).toBe(0)
    }), { numRuns: 3000 })
    for (const [a, b] of <[string, string][]>[['0.5', '0.51'], ['-0.5', '-0.51'], ['9.99', '10'], ['-10', '-9.99'], ['0.001', '0.01'], ['-0.001', '0'], ['100', '99.5']]) sameOrder(['decimal'], [a], [b])
    expect(sortKey(['decimal'], ['1.50'])).toEqual(sortKey(['decimal'], ['1.5']))
    expect(sortKey(['decimal'], ['-0.0'])).toEqual(sortKey(['decimal'], ['0']))
    expect(decodeSortKey(['decimal', 'integer'], sortKey(['decimal', 'integer'], ['-012.500', 7])!)).toEqual(['-12.5', 7])
    expect(decodeSortKey(['decimal'], sortKey(['decimal'], ['0.00120'])!)).toEqual(['0.0012'])
  })

  it('orders floats as compareKeys does: -0 is 0, NaN sorts after +Infinity', () => {
    const float = fc.oneof(fc.double(), fc.constantFrom(0, -0, Number.NaN, Infinity, -Infinity, Number.MIN_VALUE, -Number.MIN_VALUE))
    fc.assert(fc.property(float, float, (a, b) => {
      sameOrder(['float'], [a], [b])
      expect(compareKeys(['float'], decodeSortKey(['float'], sortKey(['float'], [a])!), [a])).toBe(0)
    }), { numRuns: 3000 })
    expect(sortKey(['float'], [-0])).toEqual(sortKey(['float'], [0]))
    expect(sortKey(['float'], [Number.NaN])!.compare(sortKey(['float'], [Infinity])!)).toBe(1)
  })

  it('has an encoding for decimal and float keys, none for NULL or fractional integers', () => {
    expect(sortKeyEncodable(['integer', 'text'])).toBe(true)
    expect(sortKeyEncodable(['decimal', 'float'])).toBe(true)
    expect(sortKey(['integer'], [null])).toBeUndefined()
    expect(sortKey(['integer'], [1.5])).toBeUndefined()
    expect(sortKey(['decimal'], ['abc'])).toBeUndefined()
  })
})
