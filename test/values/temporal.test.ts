/**
 * Timestamps, dates and times: every connector turns what its database holds
 * into these canonical texts, so a parse that drops microseconds or shifts a
 * zone would make the same row look changed on every run.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { microsToTimestamp, parseDate, parseLocalTimestamp, parseTime, parseTimestamp, subtractMilliseconds, timestampToMicros } from '../../src/values/temporal.js'

describe('parseTimestamp', () => {
  it('accepts ISO-8601 variants: T or space, optional seconds and fraction, any offset', () => {
    const want = '2026-11-21T10:00:00.000000Z'
    for (const input of [
      '2026-11-21T10:00:00Z',
      '2026-11-21 10:00:00',
      '2026-11-21t10:00:00z',
      '2026-11-21T10:00',
      '2026-11-21 10:00:00.000',
      '2026-11-21T12:00:00+02',
      '2026-11-21T12:00:00+0200',
      '2026-11-21T12:00:00+02:00',
      '2026-11-21T04:30:00-05:30',
      '2026-11-21 10:00:00 UTC',
      '  2026-11-21T10:00:00Z  ',
    ]) {
      expect([input, parseTimestamp(input)]).toEqual([input, want])
    }
    expect(parseTimestamp('2026-11-21')).toBe('2026-11-21T00:00:00.000000Z')
  })

  it('keeps microseconds and truncates nanoseconds', () => {
    expect(parseTimestamp('2026-11-21 12:00:00.5+02')).toBe('2026-11-21T10:00:00.500000Z')
    expect(parseTimestamp('2026-11-21T10:00:00.123456Z')).toBe('2026-11-21T10:00:00.123456Z')
    expect(parseTimestamp('2026-11-21T10:00:00.123456789Z')).toBe('2026-11-21T10:00:00.123456Z')
    expect(parseTimestamp('2026-11-21T10:00:00,25Z')).toBe('2026-11-21T10:00:00.250000Z')
  })

  it('reads epoch numbers as seconds, milliseconds or microseconds by magnitude', () => {
    expect(parseTimestamp(0)).toBe('1970-01-01T00:00:00.000000Z')
    expect(parseTimestamp(1795255200)).toBe('2026-11-21T10:00:00.000000Z')
    expect(parseTimestamp(1795255200.25)).toBe('2026-11-21T10:00:00.250000Z')
    expect(parseTimestamp(1795255200123)).toBe('2026-11-21T10:00:00.123000Z')
    expect(parseTimestamp(1795255200123456)).toBe('2026-11-21T10:00:00.123456Z')
    expect(parseTimestamp(1795255200123456n)).toBe('2026-11-21T10:00:00.123456Z')
    expect(parseTimestamp('1795255200')).toBe('2026-11-21T10:00:00.000000Z')
    expect(parseTimestamp(-1)).toBe('1969-12-31T23:59:59.000000Z')
    expect(parseTimestamp(new Date(Date.UTC(2026, 10, 21, 10, 0, 0, 7)))).toBe('2026-11-21T10:00:00.007000Z')
  })

  it('crosses day, month and year boundaries when moving to UTC', () => {
    expect(parseTimestamp('2026-01-01T01:00:00+02:00')).toBe('2025-12-31T23:00:00.000000Z')
    expect(parseTimestamp('2024-02-28T23:00:00-02:00')).toBe('2024-02-29T01:00:00.000000Z')
    expect(parseTimestamp('2026-12-31T24:00:00Z')).toBe('2027-01-01T00:00:00.000000Z')
  })

  it('rejects what is not a timestamp instead of guessing', () => {
    for (const input of ['', 'yesterday', '2026-02-30 10:00:00', '2026-13-01', '2026-11-21T25:00:00', '2026-11-21T24:30:00', '2026-11-21T10:60:00', '21/11/2026']) {
      expect(() => parseTimestamp(input), input).toThrow(TypeError)
    }
    expect(() => parseTimestamp(Number.NaN)).toThrow(TypeError)
  })

  it('round-trips every instant through microseconds, and orders like the text', () => {
    const instant = fc.bigInt({ min: timestampToMicros('0001-01-01T00:00:00Z'), max: timestampToMicros('9999-12-31T23:59:59.999999Z') })
    fc.assert(
      fc.property(instant, instant, (a, b) => {
        const ta = microsToTimestamp(a)
        expect(ta).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/)
        expect(timestampToMicros(ta)).toBe(a)
        expect(parseTimestamp(ta)).toBe(ta)
        const tb = microsToTimestamp(b)
        expect(Math.sign(ta < tb ? -1 : ta > tb ? 1 : 0)).toBe(a < b ? -1 : a > b ? 1 : 0)
      }),
      { numRuns: 3000 },
    )
  })

  it('agrees with JavaScript Date wherever Date can say', () => {
    fc.assert(
      fc.property(fc.date({ min: new Date('1000-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true }), (date) => {
        expect(parseTimestamp(date)).toBe(date.toISOString().replace(/Z$/, '000Z'))
        expect(parseTimestamp(date.toISOString())).toBe(date.toISOString().replace(/Z$/, '000Z'))
      }),
    )
  })
})

describe('subtractMilliseconds', () => {
  it('moves a timestamp back by the look-back window, across midnight', () => {
    expect(subtractMilliseconds('2026-01-01T00:00:30.000001Z', 60_000)).toBe('2025-12-31T23:59:30.000001Z')
    expect(subtractMilliseconds('2026-01-01T00:00:00.000000Z', 0.5)).toBe('2025-12-31T23:59:59.999500Z')
  })

  it('keeps a local timestamp local', () => {
    expect(subtractMilliseconds('2026-03-29T03:00:00.000000', 3_600_000)).toBe('2026-03-29T02:00:00.000000')
  })
})

describe('parseLocalTimestamp', () => {
  it('keeps the wall clock digits of zone-less input, six fraction digits, no zone', () => {
    expect(parseLocalTimestamp('2026-03-29 02:30')).toBe('2026-03-29T02:30:00.000000')
    expect(parseLocalTimestamp('2026-03-29T02:30:00.000000')).toBe('2026-03-29T02:30:00.000000')
    expect(parseLocalTimestamp('2026-10-25T02:30:00.1234567')).toBe('2026-10-25T02:30:00.123456')
    expect(parseLocalTimestamp('0001-01-01T00:00:00')).toBe('0001-01-01T00:00:00.000000')
    expect(parseLocalTimestamp('9999-12-31 23:59:59.999999')).toBe('9999-12-31T23:59:59.999999')
  })

  it('reads zoned input as its UTC wall clock', () => {
    expect(parseLocalTimestamp('2026-11-21T12:00:00+02:00')).toBe('2026-11-21T10:00:00.000000')
    expect(parseLocalTimestamp('2026-11-21T10:00:00.5Z')).toBe('2026-11-21T10:00:00.500000')
  })

  it('refuses dates the calendar lacks', () => {
    expect(() => parseLocalTimestamp('2026-02-29T00:00:00.000000')).toThrow(/not a valid timestamp/)
    expect(() => parseLocalTimestamp('2026-13-01 00:00')).toThrow(/not a valid timestamp/)
  })

  it('orders like the text, for any wall clock of years 0001-9999 (property)', () => {
    const micros = fc.bigInt({ min: -62135596800000000n, max: 253402300799999999n })
    fc.assert(
      fc.property(micros, micros, (a, b) => {
        const x = parseLocalTimestamp(microsToTimestamp(a))
        const y = parseLocalTimestamp(microsToTimestamp(b))
        expect(x).toHaveLength(26)
        expect(Math.sign(x < y ? -1 : x > y ? 1 : 0)).toBe(a < b ? -1 : a > b ? 1 : 0)
      }),
    )
  })
})

describe('parseDate', () => {
  it('pads, checks the calendar, and accepts a timestamp only at midnight', () => {
    expect(parseDate('2026-1-5')).toBe('2026-01-05')
    expect(parseDate('1900-01-01')).toBe('1900-01-01')
    expect(parseDate('2000-02-29')).toBe('2000-02-29')
    expect(parseDate('2026-11-21T00:00:00Z')).toBe('2026-11-21')
    expect(parseDate(new Date(Date.UTC(2026, 10, 21)))).toBe('2026-11-21')
    expect(() => parseDate('1900-02-29')).toThrow(TypeError)
    expect(() => parseDate('2026-11-21T10:00:00Z')).toThrow(/time of day/)
  })
})

describe('parseTime', () => {
  it('gives HH:MM:SS, with six fraction digits only when there is a fraction', () => {
    expect(parseTime('7:05')).toBe('07:05:00')
    expect(parseTime('23:59:59.999999')).toBe('23:59:59.999999')
    expect(parseTime('12:00:00.5')).toBe('12:00:00.500000')
    expect(parseTime('12:00:00.000')).toBe('12:00:00')
    expect(parseTime('00:00:00.000001')).toBe('00:00:00.000001')
    expect(parseTime('24:00:00')).toBe('24:00:00')
  })

  it('rejects impossible times', () => {
    for (const input of ['25:00', '24:30', '12:60', 'noon', '']) expect(() => parseTime(input), input).toThrow(TypeError)
  })
})

describe('parseTimestamp fast path', () => {
  it('agrees with the full parse on canonical and toISOString text', () => {
    fc.assert(
      fc.property(fc.date({ min: new Date('1900-01-01T00:00:00Z'), max: new Date('2999-12-31T23:59:59Z'), noInvalidDate: true }), fc.integer({ min: 0, max: 999 }), (date, micros) => {
        const iso = date.toISOString()
        expect(parseTimestamp(iso)).toBe(microsToTimestamp(timestampToMicros(iso)))
        const canonical = `${iso.slice(0, 23)}${String(micros).padStart(3, '0')}Z`
        expect(parseTimestamp(canonical)).toBe(microsToTimestamp(timestampToMicros(canonical)))
      }),
    )
    expect(() => parseTimestamp('2026-02-30T00:00:00.000Z')).toThrow()
  })

  it('agrees with the full parse on text one character away from canonical or toISOString form', () => {
    const outcome = (parse: () => string) => {
      try {
        return parse()
      } catch {
        return 'rejected'
      }
    }
    const near = fc.tuple(fc.constantFrom('2024-02-29T23:59:59.123456Z', '2026-11-21T10:00:00.123Z', '1999-12-31T00:00:00.000000Z'), fc.nat(), fc.constantFrom(...'0123456789-:.TZ +/a'))
    fc.assert(
      fc.property(near, ([text, at, c]) => {
        const i = at % text.length
        const changed = text.slice(0, i) + c + text.slice(i + 1)
        expect(outcome(() => parseTimestamp(changed)), changed).toBe(outcome(() => microsToTimestamp(timestampToMicros(changed))))
      }),
      { numRuns: 2000 },
    )
    for (const text of ['2023-02-29T00:00:00.000Z', '2026-04-31T00:00:00.000000Z', '2026-13-01T00:00:00.000Z', '2026-00-10T00:00:00.000Z', '2026-11-21T24:00:00.000000Z', '2026-11-21T23:60:00.000Z', '2026-11-21T23:59:60.000Z']) {
      expect(outcome(() => parseTimestamp(text)), text).toBe(outcome(() => microsToTimestamp(timestampToMicros(text))))
    }
  })
})
