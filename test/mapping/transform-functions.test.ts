import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { compileTransform, parseTransform, TransformError } from '../../src/mapping/transform/index.js'
import type { CanonicalType, Row, Value } from '../../src/values/canonical.js'

const TYPES = new Map<string, CanonicalType>([
  ['Name', 'text'],
  ['FullName', 'text'],
  ['Country', 'text'],
  ['Missing', 'text'],
  ['Qty', 'integer'],
  ['Price', 'decimal'],
  ['Ratio', 'float'],
  ['Active', 'boolean'],
  ['CreatedAt', 'timestamp'],
  ['Wall', 'localtimestamp'],
  ['Birthday', 'date'],
  ['Photo', 'bytes'],
  ['Id', 'uuid'],
])

const ROW: Row = {
  Name: 'Ada',
  FullName: 'Ada King Lovelace',
  Country: 'uk',
  Missing: null,
  Qty: 3,
  Price: '12.50',
  Ratio: 0.25,
  Active: true,
  CreatedAt: '2026-01-02T03:04:05.123456Z',
  Wall: '2026-03-29T02:30:00.000001',
  Birthday: '1815-12-10',
  Photo: new Uint8Array([0xca, 0xfe]),
  Id: '0b7f6c1e-8a4d-4f4e-9d6a-2f1c3b5a7e90',
}

function run(text: string, row: Row = ROW): Value {
  return compileTransform(parseTransform(text), TYPES).evaluate(row)
}

function failure(text: string, row: Row = ROW): TransformError {
  try {
    run(text, row)
  } catch (error) {
    expect(error).toBeInstanceOf(TransformError)
    return error as TransformError
  }
  throw new Error(`expected ${text} to fail`)
}

describe('SPLIT', () => {
  it('returns the 0-based part, negative from the end, NULL out of range', () => {
    expect(run("SPLIT(FullName, ' ', 0)")).toBe('Ada')
    expect(run("SPLIT(FullName, ' ', 2)")).toBe('Lovelace')
    expect(run("SPLIT(FullName, ' ', -1)")).toBe('Lovelace')
    expect(run("SPLIT(FullName, ' ', 3)")).toBeNull()
    expect(run("SPLIT(FullName, ' ', -4)")).toBeNull()
    expect(run("SPLIT('a--b', '--', 1)")).toBe('b')
    expect(run("SPLIT('a,,b', ',', 1)")).toBe('')
  })

  it('splits into characters (code points) on an empty separator', () => {
    expect(run("SPLIT('a😀b', '', 1)")).toBe('😀')
  })

  it('is NULL when any argument is NULL', () => {
    expect(run("SPLIT(Missing, ' ', 0)")).toBeNull()
    expect(run('SPLIT(FullName, NULL, 0)')).toBeNull()
    expect(run("SPLIT(FullName, ' ', NULL)")).toBeNull()
  })

  it('fails on an index that is not a whole number', () => {
    expect(failure("SPLIT(FullName, ' ', 1.5)").message).toContain("SPLIT failed on '1.5': the index must be a whole number")
  })
})

describe('UPPER, LOWER, TRIM', () => {
  it('map case with Unicode rules, independent of locale', () => {
    expect(run('UPPER(Name)')).toBe('ADA')
    expect(run("UPPER('straße')")).toBe('STRASSE')
    expect(run("LOWER('ÉCOLE İ')")).toBe('école i̇')
    expect(run("UPPER('😀a')")).toBe('😀A')
  })

  it('trims white space, Unicode spaces included', () => {
    expect(run("TRIM('  a b \t\n')")).toBe('a b')
    expect(run("TRIM('\u00a0x\u2003')")).toBe('x')
  })

  it('are NULL for NULL', () => {
    expect(run('UPPER(Missing)')).toBeNull()
    expect(run('LOWER(NULL)')).toBeNull()
    expect(run('TRIM(Missing)')).toBeNull()
  })

  it('work on the canonical text of other types', () => {
    expect(run('UPPER(Id)')).toBe('0B7F6C1E-8A4D-4F4E-9D6A-2F1C3B5A7E90')
  })
})

describe('CONCAT and ||', () => {
  it('CONCAT joins canonical texts and treats NULL as empty', () => {
    expect(run("CONCAT(UPPER(Country), '-', Qty)")).toBe('UK-3')
    expect(run("CONCAT(Name, Missing, '!')")).toBe('Ada!')
    expect(run('CONCAT(Missing)')).toBe('')
    expect(run('CONCAT(Active, Price, Ratio, Photo)')).toBe('true12.500.25cafe')
  })

  it('|| follows SQL: NULL in, NULL out', () => {
    expect(run("Name || ' ' || Country")).toBe('Ada uk')
    expect(run("Name || Missing || 'x'")).toBeNull()
  })
})

describe('COALESCE', () => {
  it('returns the first non-NULL argument', () => {
    expect(run("COALESCE(Missing, Name, 'x')")).toBe('Ada')
    expect(run("COALESCE(Missing, NULL, 'fallback')")).toBe('fallback')
    expect(run('COALESCE(Missing, NULL)')).toBeNull()
  })

  it('converts to the common type of its arguments', () => {
    expect(run('COALESCE(Qty, 2.5)')).toBe('3')
    expect(run('COALESCE(NULL, Qty)')).toBe(3)
    expect(run("COALESCE(Qty, 'none')")).toBe('3')
    expect(run('COALESCE(Birthday, CreatedAt)')).toBe('1815-12-10T00:00:00.000000Z')
  })
})

describe('REPLACE', () => {
  it('replaces every occurrence literally', () => {
    expect(run("REPLACE('a.b.c', '.', '/')")).toBe('a/b/c')
    expect(run("REPLACE('a+b', '+', '$&$&')")).toBe('a$&$&b')
    expect(run("REPLACE('abc', '', 'x')")).toBe('abc')
    expect(run("REPLACE('😀x😀', '😀', 'y')")).toBe('yxy')
  })

  it('is NULL when any argument is NULL', () => {
    expect(run("REPLACE(Missing, 'a', 'b')")).toBeNull()
    expect(run("REPLACE(Name, 'a', NULL)")).toBeNull()
  })
})

describe('SUBSTR', () => {
  it('is 1-based and counts code points, not UTF-16 units', () => {
    expect(run("SUBSTR('hello', 2, 3)")).toBe('ell')
    expect(run("SUBSTR('hello', 2)")).toBe('ello')
    expect(run("SUBSTR('😀😃😄', 2, 1)")).toBe('😃')
    expect(run("SUBSTR('a😀b', 3)")).toBe('b')
  })

  it('follows SQL at the edges: position 0, negative start, past the end', () => {
    expect(run("SUBSTR('hello', 0, 2)")).toBe('h')
    expect(run("SUBSTR('hello', -3)")).toBe('llo')
    expect(run("SUBSTR('hello', -3, 2)")).toBe('ll')
    expect(run("SUBSTR('hello', 10)")).toBe('')
    expect(run("SUBSTR('hello', 4, 100)")).toBe('lo')
    expect(run("SUBSTR('hello', 2, 0)")).toBe('')
  })

  it('is NULL for NULL and fails on a negative length', () => {
    expect(run('SUBSTR(Missing, 1)')).toBeNull()
    expect(run('SUBSTR(Name, NULL)')).toBeNull()
    expect(failure("SUBSTR('abc', 1, -1)").message).toContain('SUBSTR failed on -1: the length must not be negative')
  })

  it('agrees with slicing the code points (property)', () => {
    const compiled = compileTransform(parseTransform('SUBSTR(Name, Qty, Price)'), TYPES)
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 30 }), fc.integer({ min: 1, max: 35 }), fc.integer({ min: 0, max: 35 }), (s, start, length) => {
        const result = compiled.evaluate({ Name: s, Qty: start, Price: String(length) }) as string
        expect(result).toBe(Array.from(s).slice(start - 1, start - 1 + length).join(''))
        // Never half a surrogate pair.
        expect(result).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/)
      }),
    )
  })

  it('splits a text into two parts that join back (property)', () => {
    const compiled = compileTransform(parseTransform('CONCAT(SUBSTR(Name, 1, Qty), SUBSTR(Name, Price))'), TYPES)
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 20 }), fc.integer({ min: 0, max: 25 }), (s, k) => {
        expect(compiled.evaluate({ Name: s, Qty: k, Price: String(k + 1) })).toBe(s)
      }),
    )
  })
})

describe('ROUND', () => {
  it('rounds exactly, half away from zero, without float drift', () => {
    expect(run("ROUND('2.675', 2)")).toBe('2.68')
    expect(run("ROUND('-2.675', 2)")).toBe('-2.68')
    expect(run('ROUND(2.5)')).toBe('3')
    expect(run('ROUND(-2.5)')).toBe('-3')
    expect(run('ROUND(-0.4)')).toBe('0')
    expect(run('ROUND(1.005, 2)')).toBe('1.01')
    expect(run('ROUND(Price, 1)')).toBe('12.5')
    expect(run('ROUND(Qty, 2)')).toBe('3.00')
    expect(run('ROUND(1234.5, -2)')).toBe('1200')
    expect(run("ROUND('123456789012345678901234567890.45', 1)")).toBe('123456789012345678901234567890.5')
  })

  it('rounds a float by its shortest decimal text', () => {
    // 2.675 as a double is 2.67499999…; users mean 2.675.
    expect(run('ROUND(Ratio, 1)', { ...ROW, Ratio: 2.675 })).toBe('2.7')
    expect(run('ROUND(Ratio, 2)', { ...ROW, Ratio: 2.675 })).toBe('2.68')
  })

  it('is NULL for NULL and fails on text that is not a number', () => {
    expect(run('ROUND(Missing)')).toBeNull()
    expect(run('ROUND(1.5, NULL)')).toBeNull()
    expect(failure('ROUND(Name)').message).toContain("ROUND failed on 'Ada': it is not a number")
  })

  it('agrees with BigInt arithmetic on random decimals (property)', () => {
    const compiled = compileTransform(parseTransform('ROUND(Name, Qty)'), TYPES)
    const decimal = fc
      .tuple(fc.boolean(), fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: 1, maxLength: 25 }), fc.string({ unit: fc.constantFrom(...'0123456789'), maxLength: 25 }))
      .map(([negative, int, frac]) => ({ negative, int, frac }))
    fc.assert(
      fc.property(decimal, fc.integer({ min: -5, max: 30 }), ({ negative, int, frac }, digits) => {
        const text = `${negative ? '-' : ''}${int}${frac ? `.${frac}` : ''}`
        const result = compiled.evaluate({ Name: text, Qty: digits }) as string
        // Expected: |x| * 10^digits rounded half up, as an integer count of 10^-digits units.
        const magnitude = BigInt(int + frac)
        const scale = frac.length
        let units: bigint
        if (digits >= scale) units = magnitude * 10n ** BigInt(digits - scale)
        else {
          const denominator = 10n ** BigInt(scale - digits)
          units = (2n * magnitude + denominator) / (2n * denominator)
        }
        const places = Math.max(digits, 0)
        const expectedMagnitude = digits >= 0 ? units : units * 10n ** BigInt(-digits)
        const sign = negative && expectedMagnitude !== 0n ? '-' : ''
        expect(result).toMatch(places === 0 ? /^-?\d+$/ : new RegExp(`^-?\\d+\\.\\d{${places}}$`))
        expect(result.startsWith('-') ? '-' : '').toBe(sign)
        expect(BigInt(result.replace('.', ''))).toBe(negative ? -expectedMagnitude : expectedMagnitude)
      }),
      { numRuns: 500 },
    )
  })
})

describe('NUMBER', () => {
  it('turns text into an exact decimal', () => {
    expect(run("NUMBER('42')")).toBe('42')
    expect(run("NUMBER(' -3.50 ')")).toBe('-3.50')
    expect(run("NUMBER('1e3')")).toBe('1000')
    expect(run("NUMBER('0.1000000000000000055')")).toBe('0.1000000000000000055')
    expect(run('NUMBER(Qty)')).toBe('3')
    expect(run('NUMBER(Ratio)')).toBe('0.25')
    expect(run('NUMBER(Active)')).toBe('1')
  })

  it('is NULL for NULL', () => {
    expect(run('NUMBER(Missing)')).toBeNull()
  })

  it('fails on non-numeric text, naming the function and the value', () => {
    const error = failure("NUMBER('abc')")
    expect(error.code).toBe('TRANSFORM_FAILED')
    expect(error.failure).toBe('data')
    expect(error.message).toContain("NUMBER failed on 'abc'")
    expect(failure("NUMBER('')").message).toContain("NUMBER failed on ''")
    expect(failure("NUMBER('12abc')").message).toContain('12abc')
    expect(failure('NUMBER(Ratio)', { ...ROW, Ratio: NaN }).message).toContain('NUMBER failed on NaN')
  })
})

describe('TEXT', () => {
  it('gives the canonical text of any value', () => {
    expect(run('TEXT(Qty)')).toBe('3')
    expect(run('TEXT(Qty)', { ...ROW, Qty: 9007199254740993n })).toBe('9007199254740993')
    expect(run('TEXT(Price)')).toBe('12.50')
    expect(run('TEXT(Active)')).toBe('true')
    expect(run('TEXT(CreatedAt)')).toBe('2026-01-02T03:04:05.123456Z')
    expect(run('TEXT(Photo)')).toBe('cafe')
    expect(run('TEXT(Missing)')).toBeNull()
  })
})

describe('DATE_FORMAT', () => {
  it('formats timestamps in UTC with every token', () => {
    expect(run("DATE_FORMAT(CreatedAt, 'YYYY-MM-DD HH:mm:ss.SSS')")).toBe('2026-01-02 03:04:05.123')
    expect(run("DATE_FORMAT(CreatedAt, 'DD/MM/YYYY SSSSSS')")).toBe('02/01/2026 123456')
    expect(run("DATE_FORMAT(CreatedAt, 'YYYYMMDD[T]HHmmss')")).toBe('20260102T030405')
  })

  it('formats a local timestamp as its own wall clock, never shifted', () => {
    expect(run("DATE_FORMAT(Wall, 'YYYY-MM-DD HH:mm:ss.SSSSSS')")).toBe('2026-03-29 02:30:00.000001')
  })

  it('formats dates (midnight) and timestamp text with an offset', () => {
    expect(run("DATE_FORMAT(Birthday, 'DD.MM.YYYY HH:mm')")).toBe('10.12.1815 00:00')
    expect(run("DATE_FORMAT('2026-01-01T23:30:00-02:00', 'YYYY-MM-DD HH:mm')")).toBe('2026-01-02 01:30')
  })

  it('is NULL for NULL and fails on text that is not a timestamp', () => {
    expect(run("DATE_FORMAT(Missing, 'YYYY')")).toBeNull()
    expect(run('DATE_FORMAT(CreatedAt, NULL)')).toBeNull()
    expect(failure("DATE_FORMAT(Name, 'YYYY')").message).toContain("DATE_FORMAT failed on 'Ada'")
    expect(failure("DATE_FORMAT('2026-02-30', 'YYYY')").message).toContain('DATE_FORMAT failed')
  })
})

describe('nested calls', () => {
  it('evaluates arguments inside out', () => {
    expect(run("CONCAT(UPPER(SUBSTR(Name, 1, 1)), LOWER(SUBSTR(SPLIT(FullName, ' ', -1), 1, 3)))")).toBe('Alov')
    expect(run("COALESCE(NUMBER(Missing), ROUND(Price))")).toBe('13')
  })
})
