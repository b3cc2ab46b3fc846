/**
 * Exact decimal arithmetic on BigInt, for ROUND, NUMBER and value coercion.
 *
 * Decimals are canonical strings (`"-12.50"`); going through a JavaScript
 * number would turn 2.675 into 2.67499999… and round it the wrong way.
 */

/** An exact decimal: `(negative ? -1 : 1) * digits / 10^scale`, with `scale >= 0`. */
export interface Decimal {
  negative: boolean
  digits: bigint
  scale: number
}

const DECIMAL_PATTERN = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/

/**
 * Exponents beyond this are refused: `1e999999999` would otherwise expand
 * into a billion digits. No database decimal type comes close to it.
 */
const MAX_EXPONENT = 10_000

/**
 * Parse decimal text (`42`, `-3.50`, `+.5`, `1.5e-7`; surrounding space
 * allowed) without going through a float, or undefined when it is not a number.
 * @example parseDecimal('2.675') // { negative: false, digits: 2675n, scale: 3 }
 */
export function parseDecimal(text: string): Decimal | undefined {
  const match = DECIMAL_PATTERN.exec(text.trim())
  if (!match) return undefined
  const [, sign = '', int = '', frac = '', exponentText] = match
  if (int === '' && frac === '') return undefined
  const exponent = exponentText === undefined ? 0 : Number(exponentText)
  if (Math.abs(exponent) > MAX_EXPONENT) return undefined
  let digits = BigInt(int + frac || '0')
  let scale = frac.length - exponent
  if (scale < 0) {
    digits *= 10n ** BigInt(-scale)
    scale = 0
  }
  return { negative: sign === '-' && digits !== 0n, digits, scale }
}

/** The decimal of a finite JavaScript number, as its shortest round-trip text reads. */
export function decimalFromNumber(value: number): Decimal | undefined {
  return Number.isFinite(value) ? parseDecimal(String(value)) : undefined
}

/** Plain text with exactly `scale` fraction digits and no exponent: `-0.050`. */
export function formatDecimal(value: Decimal): string {
  const text = value.digits.toString().padStart(value.scale + 1, '0')
  const point = text.length - value.scale
  const body = value.scale === 0 ? text : `${text.slice(0, point)}.${text.slice(point)}`
  return value.negative && value.digits !== 0n ? `-${body}` : body
}

/**
 * Decimal text with at least `scale` fraction digits, as a column declared
 * with that scale prints it: SQLite keeps `DECIMAL(10,2)` values as REAL, so
 * 19.90 reads back as 19.9. Never rounds: text with more digits than the
 * scale (or that is not a number) comes back unchanged.
 * @example withScale('19.9', 2) // '19.90'
 * @example withScale('5', 2)    // '5.00'
 */
export function withScale(text: string, scale: number): string {
  const value = parseDecimal(text)
  if (!value || value.scale >= scale) return text
  return formatDecimal({ ...value, digits: value.digits * 10n ** BigInt(scale - value.scale), scale })
}

/** Drop trailing fraction zeros: 12.500 → 12.5. */
export function trimDecimal(value: Decimal): Decimal {
  let { digits, scale } = value
  while (scale > 0 && digits % 10n === 0n) {
    digits /= 10n
    scale--
  }
  return { negative: value.negative && digits !== 0n, digits, scale }
}

/** True when the decimal has no fractional part (4.00 is integral). */
export function isIntegral(value: Decimal): boolean {
  return value.scale === 0 || value.digits % 10n ** BigInt(value.scale) === 0n
}

/** The integer value of an integral decimal. */
export function decimalToBigInt(value: Decimal): bigint {
  const whole = value.digits / 10n ** BigInt(value.scale)
  return value.negative ? -whole : whole
}

/** Compare two decimals numerically. */
export function compareDecimal(a: Decimal, b: Decimal): number {
  const scale = Math.max(a.scale, b.scale)
  const x = a.digits * 10n ** BigInt(scale - a.scale) * (a.negative ? -1n : 1n)
  const y = b.digits * 10n ** BigInt(scale - b.scale) * (b.negative ? -1n : 1n)
  return x < y ? -1 : x > y ? 1 : 0
}

/**
 * Round to `places` fraction digits, half away from zero (SQL's ROUND on
 * numeric). Negative `places` round to tens, hundreds…; the result then has
 * no fraction digits. The result has exactly `max(places, 0)` fraction digits.
 * @example formatDecimal(roundDecimal(parseDecimal('2.675')!, 2)) // '2.68'
 */
export function roundDecimal(value: Decimal, places: number): Decimal {
  if (places >= value.scale) {
    return { negative: value.negative, digits: value.digits * 10n ** BigInt(places - value.scale), scale: places }
  }
  const divisor = 10n ** BigInt(value.scale - places)
  let quotient = value.digits / divisor
  if (2n * (value.digits % divisor) >= divisor) quotient += 1n
  const digits = places >= 0 ? quotient : quotient * 10n ** BigInt(-places)
  return { negative: value.negative && digits !== 0n, digits, scale: Math.max(places, 0) }
}
