/**
 * The SQLite codec: declared types → canonical types, what real files hold
 * → canonical values, canonical values → what is stored.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { affinityOf, canonicalTypeOf, decimalSortKey, declaredTypeFor, decodeValue, encodeValue, rowDecoder } from '../../../src/connectors/sqlite/codec.js'
import { RecordError } from '../../../src/errors.js'
import { CANONICAL_TYPES, type CanonicalType } from '../../../src/values/canonical.js'
import { compareBytes, compareDecimals } from '../../../src/values/compare.js'

describe('canonicalTypeOf', () => {
  it.each([
    ['INTEGER', 'integer'],
    ['INT', 'integer'],
    ['BIGINT', 'integer'],
    ['UNSIGNED BIG INT', 'integer'],
    ['int8', 'integer'],
    ['BOOL', 'boolean'],
    ['BOOLEAN', 'boolean'],
    ['REAL', 'float'],
    ['DOUBLE PRECISION', 'float'],
    ['FLOAT', 'float'],
    ['NUMERIC', 'decimal'],
    ['decimal(10,5)', 'decimal'],
    ['CHAR(3)', 'text'],
    ['VARCHAR(255)', 'text'],
    ['NVARCHAR(20)', 'text'],
    ['CHARACTER VARYING(9)', 'text'],
    ['TEXT', 'text'],
    ['CLOB', 'text'],
    ['BLOB', 'bytes'],
    ['DATE', 'date'],
    ['TIME', 'time'],
    ['DATETIME', 'timestamp'],
    ['TIMESTAMP', 'timestamp'],
    ['TIMESTAMPTZ', 'timestamp'],
    ['TIMESTAMP WITH TIME ZONE', 'timestamp'],
    // Only a declared type that says it is local: CURRENT_TIMESTAMP writes UTC into plain DATETIME columns.
    ['LOCAL_TIMESTAMP_TEXT', 'localtimestamp'],
    ['LOCALTIMESTAMP', 'localtimestamp'],
    ['LOCAL_DATETIME', 'localtimestamp'],
    ['TIMESTAMP WITHOUT TIME ZONE', 'localtimestamp'],
    ['JSON', 'json'],
    ['JSONB', 'json'],
    ['UUID', 'uuid'],
    ['', 'text'],
    ['SOMETHING_ODD', 'text'],
  ])('%s is %s', (declared, type) => {
    expect(canonicalTypeOf(declared).type).toBe(type)
  })

  it('reads limits from the declared type', () => {
    expect(canonicalTypeOf('VARCHAR(255)')).toEqual({ type: 'text', maxLength: 255 })
    expect(canonicalTypeOf('DECIMAL(38,10)')).toEqual({ type: 'decimal', precision: 38, scale: 10 })
    expect(canonicalTypeOf('NUMERIC(12)')).toEqual({ type: 'decimal', precision: 12, scale: 0 })
    expect(canonicalTypeOf('TEXT')).toEqual({ type: 'text' })
  })

  it('maps every type ensureEntity declares back to the same canonical type, with limits', () => {
    for (const type of CANONICAL_TYPES) {
      const declared = declaredTypeFor({ name: 'x', type, nativeType: '', nullable: true })
      expect(canonicalTypeOf(declared).type).toBe(type)
    }
    expect(canonicalTypeOf(declaredTypeFor({ name: 'x', type: 'text', nativeType: '', nullable: true, maxLength: 40 }))).toEqual({ type: 'text', maxLength: 40 })
    expect(canonicalTypeOf(declaredTypeFor({ name: 'x', type: 'decimal', nativeType: '', nullable: true, precision: 38, scale: 10 }))).toEqual({
      type: 'decimal',
      precision: 38,
      scale: 10,
    })
  })

  it('gives every type kept as text a TEXT affinity, so SQLite never turns it into a number', () => {
    for (const type of ['decimal', 'text', 'uuid', 'timestamp', 'date', 'time', 'json'] as CanonicalType[]) {
      expect([type, affinityOf(declaredTypeFor({ name: 'x', type, nativeType: '', nullable: true, precision: 38, scale: 10 }))]).toEqual([type, 'TEXT'])
    }
    expect(affinityOf('DECIMAL(38,10)')).toBe('NUMERIC')
    expect(affinityOf('JSON')).toBe('NUMERIC')
  })
})

describe('decodeValue accepts what real SQLite files hold', () => {
  it('integers: int64 exact, narrowed to a number within 2^53', () => {
    expect(decodeValue(42n, 'integer')).toBe(42)
    expect(decodeValue(2n ** 63n - 1n, 'integer')).toBe(2n ** 63n - 1n)
    expect(decodeValue(-(2n ** 53n) - 1n, 'integer')).toBe(-(2n ** 53n) - 1n)
    expect(decodeValue(7.0, 'integer')).toBe(7)
    expect(decodeValue(' 12 ', 'integer')).toBe(12)
    expect(() => decodeValue(7.5, 'integer')).toThrow(/not an integer/)
  })

  it('timestamps: ISO text variants and epoch numbers', () => {
    const want = '2026-11-21T10:00:00.000000Z'
    for (const raw of ['2026-11-21 10:00:00', '2026-11-21T10:00:00', '2026-11-21T10:00:00Z', '2026-11-21 12:00:00+02:00', '2026-11-21T05:30:00-04:30', '2026-11-21 10:00']) {
      expect([raw, decodeValue(raw, 'timestamp')]).toEqual([raw, want])
    }
    expect(decodeValue('2026-11-21 10:00:00.123456789', 'timestamp')).toBe('2026-11-21T10:00:00.123456Z')
    expect(decodeValue(1795255200n, 'timestamp')).toBe(want)
    expect(decodeValue(1795255200123n, 'timestamp')).toBe('2026-11-21T10:00:00.123000Z')
    expect(decodeValue(1795255200.5, 'timestamp')).toBe('2026-11-21T10:00:00.500000Z')
    expect(decodeValue('1795255200', 'timestamp')).toBe(want)
    expect(() => decodeValue('yesterday', 'timestamp')).toThrow(/not a timestamp/)
  })

  it('decimals stored as REAL, INTEGER or TEXT', () => {
    expect(decodeValue('12.50', 'decimal')).toBe('12.50')
    expect(decodeValue(12.5, 'decimal')).toBe('12.5')
    expect(decodeValue(12n, 'decimal')).toBe('12')
    expect(decodeValue(123456789012345678901234567890n, 'decimal')).toBe('123456789012345678901234567890')
    expect(decodeValue(1e-7, 'decimal')).toBe('0.0000001')
    expect(decodeValue('1.5E3', 'decimal')).toBe('1500')
    expect(() => decodeValue('12,50', 'decimal')).toThrow(/not a decimal/)
  })

  it('booleans as 0/1 or words', () => {
    expect(decodeValue(0n, 'boolean')).toBe(false)
    expect(decodeValue(1n, 'boolean')).toBe(true)
    expect(decodeValue('true', 'boolean')).toBe(true)
    expect(decodeValue('FALSE', 'boolean')).toBe(false)
    expect(decodeValue('t', 'boolean')).toBe(true)
    expect(() => decodeValue('maybe', 'boolean')).toThrow(/not a boolean/)
  })

  it('json that NUMERIC affinity turned into a number, and any key order', () => {
    expect(decodeValue(5n, 'json')).toBe('5')
    expect(decodeValue(1.5, 'json')).toBe('1.5')
    expect(decodeValue('{"b": 1, "a": 2}', 'json')).toBe('{"a":2,"b":1}')
    expect(() => decodeValue('{oops', 'json')).toThrow(/not JSON/)
  })

  it('uuids in any case, braced, bare or as 16 bytes', () => {
    const want = '123e4567-e89b-12d3-a456-426614174000'
    expect(decodeValue('123E4567-E89B-12D3-A456-426614174000', 'uuid')).toBe(want)
    expect(decodeValue('{123e4567-e89b-12d3-a456-426614174000}', 'uuid')).toBe(want)
    expect(decodeValue('123e4567e89b12d3a456426614174000', 'uuid')).toBe(want)
    expect(decodeValue(Buffer.from('123e4567e89b12d3a456426614174000', 'hex'), 'uuid')).toBe(want)
    expect(() => decodeValue('not-a-uuid', 'uuid')).toThrow(/not a uuid/)
  })

  it('dates, times, text and bytes', () => {
    expect(decodeValue('2026-1-5', 'date')).toBe('2026-01-05')
    expect(decodeValue('2026-01-05 00:00:00', 'date')).toBe('2026-01-05')
    expect(() => decodeValue('2026-01-05 10:00:00', 'date')).toThrow(/time of day/)
    expect(decodeValue('7:05', 'time')).toBe('07:05:00')
    expect(decodeValue('10:00:00.5', 'time')).toBe('10:00:00.500000')
    expect(decodeValue(42n, 'text')).toBe('42')
    expect(decodeValue(Buffer.from('héllo'), 'text')).toBe('héllo')
    expect(decodeValue('abc', 'bytes')).toEqual(Buffer.from('abc'))
  })

  it('a value that cannot be decoded is a data error naming the entity and field', () => {
    const decode = rowDecoder('orders', [
      { name: 'id', type: 'integer', nativeType: 'INTEGER', nullable: false },
      { name: 'created_at', type: 'timestamp', nativeType: 'DATETIME', nullable: true },
    ])
    expect(decode([1n, '2026-01-01 00:00:00'])).toEqual({ id: 1, created_at: '2026-01-01T00:00:00.000000Z' })
    let error: unknown
    try {
      decode([2n, 'last tuesday'])
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(RecordError)
    expect((error as RecordError).failure).toBe('data')
    expect((error as Error).message).toContain("'orders'")
    expect((error as Error).message).toContain("'created_at'")
    expect((error as Error).message).toContain('last tuesday')
  })
})

describe('encodeValue', () => {
  it('writes canonical forms: UTC timestamp text, exact decimal text, int64, 0/1, canonical json', () => {
    expect(encodeValue('2026-11-21 12:00:00.123456+02', 'timestamp')).toBe('2026-11-21T10:00:00.123456Z')
    expect(encodeValue('1234567890123456789012345678.0123456789', 'decimal')).toBe('1234567890123456789012345678.0123456789')
    expect(encodeValue(9007199254740993n, 'integer')).toBe(9007199254740993n)
    expect(encodeValue(5, 'integer')).toBe(5n)
    expect(encodeValue(true, 'boolean')).toBe(1n)
    expect(encodeValue('{ "b":1, "a":2 }', 'json')).toBe('{"a":2,"b":1}')
    expect(encodeValue('ABCDEF00-0000-0000-0000-000000000000', 'uuid')).toBe('abcdef00-0000-0000-0000-000000000000')
    expect(encodeValue(new Uint8Array([0, 1]), 'bytes')).toEqual(Buffer.from([0, 1]))
  })

  it('refuses what SQLite would store wrongly', () => {
    expect(() => encodeValue(2n ** 63n, 'integer')).toThrow(/64-bit/)
    expect(() => encodeValue(1.5, 'integer')).toThrow(/not an integer/)
    expect(() => encodeValue(Number.NaN, 'float')).toThrow(/NaN/)
    expect(() => encodeValue('abc', 'decimal')).toThrow(/not a decimal/)
  })
})

describe('decimalSortKey', () => {
  const decimal = fc
    .tuple(fc.boolean(), fc.bigInt({ min: 0n, max: 10n ** 40n }), fc.nat({ max: 12 }))
    .map(([negative, digits, scale]) => {
      const text = digits.toString().padStart(scale + 1, '0')
      const body = scale === 0 ? text : `${text.slice(0, -scale)}.${text.slice(-scale)}`
      return negative ? `-${body}` : body
    })

  it('orders keys (memcmp) exactly as the decimals compare numerically', () => {
    fc.assert(
      fc.property(decimal, decimal, (a, b) => {
        expect(Math.sign(compareBytes(decimalSortKey(a), decimalSortKey(b)))).toBe(Math.sign(compareDecimals(a, b)))
      }),
      { numRuns: 2000 },
    )
  })

  it('gives equal numbers equal keys', () => {
    expect(decimalSortKey('12.50')).toEqual(decimalSortKey('12.5'))
    expect(decimalSortKey('-0.0')).toEqual(decimalSortKey('0'))
    expect(decimalSortKey('1200')).toEqual(decimalSortKey('1.2e3'))
    const ordered = ['-100', '-10', '-9.99', '-1.23', '-1.2', '-0.001', '0', '0.001', '1.2', '1.23', '9', '10', '100']
    const keys = ordered.map(decimalSortKey)
    expect([...keys].sort(compareBytes)).toEqual(keys)
  })
})
