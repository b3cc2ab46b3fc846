/**
 * Timestamps, dates and times in their canonical text forms (see canonical.ts),
 * parsed without going through a JavaScript Date so microseconds survive.
 */

const TIMESTAMP_PATTERN =
  /^(-?\d{4,6})-(\d{1,2})-(\d{1,2})(?:[Tt ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*(Z|z|UTC|[+-]\d{2}(?::?\d{2}(?::?\d{2})?)?)?$/
const TIME_PATTERN = /^(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?$/
const MICROS_PER_SECOND = 1_000_000n
const MICROS_PER_DAY = 86_400n * MICROS_PER_SECOND

/** Days from 1970-01-01 to the given proleptic Gregorian date (no Date object, any year). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year
  const era = Math.floor(y / 400)
  const yoe = y - era * 400
  const mp = (month + 9) % 12
  const doy = Math.floor((153 * mp + 2) / 5) + day - 1
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
}

/** The inverse of {@link daysFromCivil}. */
function civilFromDays(days: number): [number, number, number] {
  const z = days + 719468
  const era = Math.floor(z / 146097)
  const doe = z - era * 146097
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365)
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100))
  const mp = Math.floor((5 * doy + 2) / 153)
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1
  const month = mp < 10 ? mp + 3 : mp - 9
  return [yoe + era * 400 + (month <= 2 ? 1 : 0), month, day]
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const

function daysInMonth(year: number, month: number): number {
  if (month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)) return 29
  return DAYS_IN_MONTH[month - 1]!
}

/** Hours 0-23 (or exactly 24:00:00, the end of a day), minutes 0-59, seconds 0-60 (a leap second). */
function validTimeOfDay(hour: number, minute: number, second: number, fraction: string | undefined): boolean {
  if (hour === 24) return minute === 0 && second === 0 && micros(fraction) === 0
  return hour < 24 && minute <= 59 && second <= 60
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0')
}

function formatYear(year: number): string {
  return year < 0 ? `-${pad(-year, 4)}` : pad(year, 4)
}

/** Six fraction digits from up to nine (truncating nanoseconds). */
function micros(fraction: string | undefined): number {
  return fraction ? Number(fraction.slice(0, 6).padEnd(6, '0')) : 0
}

function offsetSeconds(zone: string | undefined): number {
  if (!zone || zone === 'Z' || zone === 'z' || zone === 'UTC') return 0
  const sign = zone.startsWith('-') ? -1 : 1
  const digits = zone.slice(1).replace(/:/g, '')
  const hours = Number(digits.slice(0, 2))
  const minutes = Number(digits.slice(2, 4) || 0)
  const seconds = Number(digits.slice(4, 6) || 0)
  return sign * (hours * 3600 + minutes * 60 + seconds)
}

/** Microseconds since 1970-01-01T00:00:00Z for a canonical (or parseable) timestamp. */
export function timestampToMicros(text: string): bigint {
  const match = TIMESTAMP_PATTERN.exec(text.trim())
  if (!match) throw new TypeError(`not a timestamp: ${JSON.stringify(text)}`)
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac, zone] = match
  const year = Number(y)
  const month = Number(mo)
  const day = Number(d)
  const hour = Number(h)
  const minute = Number(mi)
  const second = Number(s)
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || !validTimeOfDay(hour, minute, second, frac)) {
    throw new TypeError(`not a valid timestamp: ${JSON.stringify(text)}`)
  }
  const days = BigInt(daysFromCivil(year, month, day))
  const seconds = BigInt(hour * 3600 + minute * 60 + second - offsetSeconds(zone))
  return days * MICROS_PER_DAY + seconds * MICROS_PER_SECOND + BigInt(micros(frac))
}

/** The canonical text of an instant given in microseconds since the epoch. */
export function microsToTimestamp(value: bigint): string {
  let days = value / MICROS_PER_DAY
  let rest = value % MICROS_PER_DAY
  if (rest < 0n) {
    rest += MICROS_PER_DAY
    days -= 1n
  }
  const [year, month, day] = civilFromDays(Number(days))
  const totalSeconds = Number(rest / MICROS_PER_SECOND)
  const fraction = Number(rest % MICROS_PER_SECOND)
  const hh = Math.floor(totalSeconds / 3600)
  const mm = Math.floor((totalSeconds % 3600) / 60)
  const ss = totalSeconds % 60
  return `${formatYear(year)}-${pad(month, 2)}-${pad(day, 2)}T${pad(hh, 2)}:${pad(mm, 2)}:${pad(ss, 2)}.${pad(fraction, 6)}Z`
}

/** Whether `count` characters of `text` from `at` are ASCII digits (what `\d` matches). */
function digitsAt(text: string, at: number, count: number): boolean {
  for (let i = at; i < at + count; i++) {
    const c = text.charCodeAt(i)
    if (c < 48 || c > 57) return false
  }
  return true
}

/** The number two ASCII digits at `at` spell. */
function twoDigits(text: string, at: number): number {
  return (text.charCodeAt(at) - 48) * 10 + text.charCodeAt(at + 1) - 48
}

/**
 * The hot path of real data: text already canonical, or JavaScript's
 * `toISOString()` form with milliseconds (`YYYY-MM-DDTHH:MM:SS.fff[fff]Z`),
 * with in-range fields. Anything else (undefined) takes the full parse.
 * Character checks rather than a regular expression: bulk copies call this
 * once per stored timestamp, and a match array per call was most of its cost.
 */
function fastCanonical(text: string): string | undefined {
  const length = text.length
  if (length !== 27 && length !== 24) return undefined
  // '-' '-' 'T' ':' ':' '.' 'Z'
  if (text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45 || text.charCodeAt(10) !== 84 || text.charCodeAt(13) !== 58 || text.charCodeAt(16) !== 58 || text.charCodeAt(19) !== 46 || text.charCodeAt(length - 1) !== 90) {
    return undefined
  }
  if (!digitsAt(text, 0, 4) || !digitsAt(text, 5, 2) || !digitsAt(text, 8, 2) || !digitsAt(text, 11, 2) || !digitsAt(text, 14, 2) || !digitsAt(text, 17, 2) || !digitsAt(text, 20, length - 21)) {
    return undefined
  }
  const month = twoDigits(text, 5)
  const day = twoDigits(text, 8)
  if (twoDigits(text, 11) > 23 || twoDigits(text, 14) > 59 || twoDigits(text, 17) > 59) return undefined
  const year = twoDigits(text, 0) * 100 + twoDigits(text, 2)
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined
  return length === 27 ? text : `${text.slice(0, 23)}000Z`
}

/**
 * Canonical timestamp (`YYYY-MM-DDTHH:MM:SS.ffffffZ`, UTC) from ISO-8601
 * variants (`T` or space, optional seconds and fraction, `Z`/`+02`/`+05:30`
 * or no offset, meaning UTC), a Date, or an epoch number: seconds below
 * 1e11, milliseconds below 1e14, microseconds above.
 * @example parseTimestamp('2026-11-21 12:00:00.5+02') // '2026-11-21T10:00:00.500000Z'
 */
export function parseTimestamp(input: string | number | bigint | Date): string {
  if (input instanceof Date) return microsToTimestamp(BigInt(input.getTime()) * 1000n)
  if (typeof input === 'bigint') return microsToTimestamp(input)
  if (typeof input === 'number') {
    if (!Number.isFinite(input)) throw new TypeError(`not a timestamp: ${input}`)
    const abs = Math.abs(input)
    const microsValue = abs < 1e11 ? Math.round(input * 1e6) : abs < 1e14 ? Math.round(input * 1e3) : Math.round(input)
    return microsToTimestamp(BigInt(microsValue))
  }
  const fast = fastCanonical(input)
  if (fast !== undefined) return fast
  const trimmed = input.trim()
  if (/^-?\d+(\.\d+)?$/.test(trimmed) && !/^\d{4}-/.test(trimmed)) return parseTimestamp(Number(trimmed))
  return microsToTimestamp(timestampToMicros(trimmed))
}

/**
 * Canonical local (naive) timestamp `YYYY-MM-DDTHH:MM:SS.ffffff`: a wall
 * clock reading without a zone, kept as written and never shifted by the
 * process's or a server's time zone. Input without an offset keeps its
 * fields (`2026-03-29 02:30` stays 02:30 even where that hour does not
 * exist); input with one (a zoned instant) is read as its UTC wall clock,
 * the same digits a UTC session prints (docs/values.md, Decisions).
 * @example parseLocalTimestamp('2026-03-29 02:30:00') // '2026-03-29T02:30:00.000000'
 */
export function parseLocalTimestamp(input: string | number | bigint | Date): string {
  if (typeof input === 'string' && input.length === 26 && LOCAL_CANONICAL.test(input) && validDate(input)) return input
  return parseTimestamp(input).slice(0, -1)
}

const LOCAL_CANONICAL = /^\d{4}-\d\d-\d\dT([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{6}$/

function validDate(text: string): boolean {
  const month = Number(text.slice(5, 7))
  const day = Number(text.slice(8, 10))
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(Number(text.slice(0, 4)), month)
}

/**
 * Canonical date `YYYY-MM-DD`; a timestamp's date part is accepted when its
 * time is midnight, anything else is an error rather than a silent cut.
 */
export function parseDate(input: string | Date): string {
  if (input instanceof Date) return parseTimestamp(input).slice(0, 10)
  const trimmed = input.trim()
  const match = /^(-?\d{4,6})-(\d{1,2})-(\d{1,2})$/.exec(trimmed)
  if (match) {
    const [, y, m, d] = match
    const year = Number(y)
    const month = Number(m)
    const day = Number(d)
    if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) throw new TypeError(`not a valid date: ${JSON.stringify(input)}`)
    return `${formatYear(year)}-${pad(month, 2)}-${pad(day, 2)}`
  }
  const timestamp = parseTimestamp(trimmed)
  if (!timestamp.endsWith('T00:00:00.000000Z')) throw new TypeError(`not a date (it has a time of day): ${JSON.stringify(input)}`)
  return timestamp.slice(0, 10)
}

/**
 * Canonical time `HH:MM:SS`, or `HH:MM:SS.ffffff` when it has a fraction.
 * @example parseTime('7:05') // '07:05:00'
 */
export function parseTime(input: string): string {
  const match = TIME_PATTERN.exec(input.trim())
  if (!match) throw new TypeError(`not a time: ${JSON.stringify(input)}`)
  const [, h, m, s = '0', frac] = match
  const hour = Number(h)
  const minute = Number(m)
  const second = Number(s)
  if (!validTimeOfDay(hour, minute, second, frac)) throw new TypeError(`not a valid time: ${JSON.stringify(input)}`)
  const fraction = micros(frac)
  const base = `${pad(hour, 2)}:${pad(minute, 2)}:${pad(second, 2)}`
  return fraction === 0 ? base : `${base}.${pad(fraction, 6)}`
}

/**
 * A canonical timestamp moved back by `ms` milliseconds (the look-back
 * window); a local timestamp stays local (its wall clock moved back).
 */
export function subtractMilliseconds(timestamp: string, ms: number): string {
  const moved = microsToTimestamp(timestampToMicros(timestamp) - BigInt(Math.round(ms * 1000)))
  return timestamp.endsWith('Z') ? moved : moved.slice(0, -1)
}
