import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { RecordError } from '../../src/errors.js'
import { canConvert, coerceValue } from '../../src/mapping/coerce.js'
import type { CanonicalType, Value } from '../../src/values/canonical.js'

function rejected(value: Value, from: CanonicalType, to: CanonicalType): RecordError {
  try {
    coerceValue(value, from, to, 'amount')
  } catch (error) {
    expect(error).toBeInstanceOf(RecordError)
    return error as RecordError
  }
  throw new Error(`expected ${String(value)} (${from}) not to convert to ${to}`)
}

describe('coerceValue: lossless conversions', () => {
  it.each<[Value, CanonicalType, CanonicalType, Value]>([
    [42, 'integer', 'decimal', '42'],
    [42, 'integer', 'float', 42],
    [42, 'integer', 'text', '42'],
    [9007199254740993n, 'integer', 'decimal', '9007199254740993'],
    [9007199254740993n, 'integer', 'text', '9007199254740993'],
    [1, 'integer', 'boolean', true],
    ['42', 'text', 'integer', 42],
    [' 42 ', 'text', 'integer', 42],
    ['4.00', 'text', 'integer', 4],
    ['9007199254740993', 'text', 'integer', 9007199254740993n],
  ])('%s (%s) → %s', (value, from, to, expected) => {
    expect(coerceValue(value, from, to, 'amount')).toEqual(expected)
  })

  it.each<[Value, CanonicalType, CanonicalType, Value]>([
    ['12.00', 'decimal', 'integer', 12],
    ['12.50', 'decimal', 'float', 12.5],
    ['0.1', 'decimal', 'float', 0.1],
    ['-3.25', 'decimal', 'text', '-3.25'],
    [1.5, 'float', 'decimal', '1.5'],
    [1e21, 'float', 'decimal', '1000000000000000000000'],
    [3, 'float', 'integer', 3],
    [0.1, 'float', 'text', '0.1'],
    ['1.5e3', 'text', 'decimal', '1500'],
    ['NaN', 'text', 'float', NaN],
    [true, 'boolean', 'integer', 1],
    [false, 'boolean', 'text', 'false'],
    ['t', 'text', 'boolean', true],
    ['FALSE', 'text', 'boolean', false],
    ['2026-01-02T03:04:05.123456Z', 'timestamp', 'text', '2026-01-02T03:04:05.123456Z'],
    ['2026-01-02 05:04:05.5+02', 'text', 'timestamp', '2026-01-02T03:04:05.500000Z'],
    ['2026-01-02', 'text', 'timestamp', '2026-01-02T00:00:00.000000Z'],
    ['2026-01-02', 'date', 'timestamp', '2026-01-02T00:00:00.000000Z'],
    ['2026-01-02T00:00:00.000000Z', 'timestamp', 'date', '2026-01-02'],
    ['2026-01-02', 'date', 'text', '2026-01-02'],
    ['7:05', 'text', 'time', '07:05:00'],
    ['12:00:00.5', 'time', 'text', '12:00:00.5'],
    ['{0B7F6C1E-8A4D-4F4E-9D6A-2F1C3B5A7E90}', 'text', 'uuid', '0b7f6c1e-8a4d-4f4e-9d6a-2f1c3b5a7e90'],
    ['0b7f6c1e-8a4d-4f4e-9d6a-2f1c3b5a7e90', 'uuid', 'text', '0b7f6c1e-8a4d-4f4e-9d6a-2f1c3b5a7e90'],
    ['{"b": 1, "a": [1, 2]}', 'text', 'json', '{"a":[1,2],"b":1}'],
    ['{"a":1}', 'json', 'text', '{"a":1}'],
    [12, 'integer', 'json', '12'],
    // Canonical JSON, as jsonb spells numbers: no exponent, zero without a sign.
    [1e21, 'float', 'json', '1000000000000000000000'],
    [1e-7, 'float', 'json', '0.0000001'],
    [-0, 'float', 'json', '0'],
    [null, 'text', 'integer', null],
    [null, 'bytes', 'text', null],
  ])('%s (%s) → %s', (value, from, to, expected) => {
    expect(coerceValue(value, from, to, 'amount')).toEqual(expected)
  })

  it('returns the value untouched when the types agree', () => {
    const bytes = new Uint8Array([1, 2])
    expect(coerceValue(bytes, 'bytes', 'bytes', 'photo')).toBe(bytes)
    expect(coerceValue('12.50', 'decimal', 'decimal', 'price')).toBe('12.50')
  })

  it('keeps every safe integer exact through text and back (property)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }), (n) => {
        const text = coerceValue(n, 'integer', 'text', 'id') as string
        const back = coerceValue(text, 'text', 'integer', 'id')
        expect(BigInt(back as number | bigint)).toBe(n)
        expect(coerceValue(text, 'text', 'decimal', 'id')).toBe(String(n))
      }),
    )
  })
})

describe('coerceValue: lossy conversions are rejected', () => {
  it.each<[Value, CanonicalType, CanonicalType, string]>([
    ['12.5', 'decimal', 'integer', 'it has a fraction'],
    ['12.5', 'text', 'integer', 'it has a fraction'],
    [12.5, 'float', 'integer', 'it has a fraction'],
    ['abc', 'text', 'integer', 'it is not a number'],
    ['', 'text', 'decimal', 'it is not a number'],
    ['0.1000000000000000055', 'decimal', 'float', 'more digits than a float holds'],
    [9007199254740993n, 'integer', 'float', 'more digits than a float holds'],
    [NaN, 'float', 'decimal', 'not a finite number'],
    [2, 'integer', 'boolean', 'only 0 and 1'],
    ['yes please', 'text', 'boolean', 'not a boolean'],
    ['2026-01-02T10:00:00Z', 'timestamp', 'date', 'it has a time of day'],
    ['2026-02-30', 'text', 'date', 'not a valid date'],
    ['1700000000', 'text', 'timestamp', 'not a timestamp'],
    [1700000000, 'integer', 'timestamp', 'no conversion from integer to timestamp'],
    ['not json', 'text', 'json', 'not JSON'],
    ['xyz', 'text', 'uuid', 'not a UUID'],
    [new Uint8Array([1]), 'bytes', 'text', 'no conversion from bytes to text'],
    ['abc', 'text', 'bytes', 'no conversion from text to bytes'],
    ['2026-01-02T00:00:00.000000Z', 'timestamp', 'integer', 'no conversion from timestamp to integer'],
  ])('%s (%s) → %s: %s', (value, from, to, reason) => {
    const error = rejected(value, from, to)
    expect(error.code).toBe('VALUE_REJECTED')
    expect(error.failure).toBe('data')
    expect(error.message).toContain("Field 'amount'")
    expect(error.message).toContain(reason)
    expect(error.details).toMatchObject({ field: 'amount', from, to })
  })
})

describe('coerceValue: local and zoned timestamps', () => {
  it('reads a local timestamp as UTC into a zoned field, and a zoned one as its UTC wall clock: the digits never move', () => {
    expect(coerceValue('2026-03-29T02:30:00.000000', 'localtimestamp', 'timestamp', 'at')).toBe('2026-03-29T02:30:00.000000Z')
    expect(coerceValue('2026-03-29T02:30:00.000000Z', 'timestamp', 'localtimestamp', 'at')).toBe('2026-03-29T02:30:00.000000')
    expect(coerceValue('2026-03-29', 'date', 'localtimestamp', 'at')).toBe('2026-03-29T00:00:00.000000')
    expect(coerceValue('2026-03-29T00:00:00.000000', 'localtimestamp', 'date', 'at')).toBe('2026-03-29')
    expect(coerceValue('2026-03-29 02:30', 'text', 'localtimestamp', 'at')).toBe('2026-03-29T02:30:00.000000')
    expect(coerceValue('2026-03-29T02:30:00.000000', 'localtimestamp', 'text', 'at')).toBe('2026-03-29T02:30:00.000000')
  })

  it('refuses a local timestamp with a time of day as a date, and epoch numbers', () => {
    expect(rejected('2026-03-29T02:30:00.000000', 'localtimestamp', 'date').message).toContain('time of day')
    expect(rejected(1_700_000_000, 'integer', 'localtimestamp').message).toContain('no conversion')
  })
})

describe('canConvert', () => {
  it('says which type pairs can ever convert', () => {
    expect(canConvert('integer', 'decimal')).toBe(true)
    expect(canConvert('text', 'integer')).toBe(true)
    expect(canConvert('date', 'timestamp')).toBe(true)
    expect(canConvert('localtimestamp', 'timestamp')).toBe(true)
    expect(canConvert('timestamp', 'localtimestamp')).toBe(true)
    expect(canConvert('localtimestamp', 'time')).toBe(false)
    expect(canConvert('bytes', 'text')).toBe(false)
    expect(canConvert('timestamp', 'integer')).toBe(false)
    expect(canConvert('uuid', 'integer')).toBe(false)
  })
})
