/**
 * The text of numbers for per-row encoders and decoders, without `String(number)`.
 *
 * Why: V8 keeps the string of every number it prints in a cache that lives
 * in the old generation, so each printed number survives the next young
 * collection. Printed once per cell over a million rows, that made the young
 * generation grow to its maximum and filled the old one with dead strings
 * (tens of MB of peak RSS in a bulk copy), and cost more CPU than the
 * printing itself (a SQLite scan of a REAL decimal column: 137 MB peak RSS
 * over 10,000,000 rows with `String(number)`, 97 MB without). These
 * functions build the same text from small strings made once, or print it
 * through JSON.stringify: neither goes through that cache.
 */

/**
 * What `String(x)` gives for a finite double, printed by JSON.stringify,
 * which writes the same shortest text (the spec's Number::toString) without
 * putting it in that cache.
 * @example doubleText(79.19) // '79.19'
 */
export function doubleText(x: number): string {
  return JSON.stringify(x)
}

/** `'0'` … `'9999'`, and the same padded to four digits; made on first use. */
let small: string[] | undefined
let padded: string[] | undefined

function tables(): [string[], string[]] {
  if (!small || !padded) {
    small = Array.from({ length: 10000 }, (_, i) => `${i}`)
    padded = small.map((s) => s.padStart(4, '0'))
  }
  return [small, padded]
}

/**
 * The decimal text of a safe integer, what `String(n)` gives.
 * @example integerText(-1234567) // '-1234567'
 */
export function integerText(n: number): string {
  const [plain, four] = tables()
  if (n < 0) return `-${integerText(-n)}`
  if (n < 10000) return plain[n]!
  let low = n % 10000
  let rest = (n - low) / 10000
  let text = four[low]!
  while (rest >= 10000) {
    low = rest % 10000
    rest = (rest - low) / 10000
    text = four[low]! + text
  }
  return plain[rest]! + text
}

const POWERS_OF_TEN = [1, 10, 100, 1000, 10000, 100000, 1000000] as const

/**
 * What `String(x)` gives for a double with at most `scale` (≤ 6) decimals
 * and fewer than 15 significant digits, the common REAL decimal; undefined
 * for any other double (the caller prints it the general way).
 *
 * Exact because: `k / 10^scale === x` means x is the double nearest to the
 * decimal `k × 10^-scale` (IEEE division rounds correctly, and k and
 * 10^scale are exact). Two decimals of at most 15 significant digits are
 * never nearest to the same double, so that decimal is also the shortest
 * one that reads back as x, which is what `String(x)` prints (without an
 * exponent for |x| ≥ 1e-6, which a nonzero value of scale ≤ 6 is). It is
 * printed from k's digits, trailing zeros of the fraction left out.
 * @example shortDecimalText(1234.5, 2) // '1234.5'
 */
export function shortDecimalText(x: number, scale: number): string | undefined {
  const power = POWERS_OF_TEN[scale]
  if (power === undefined) return undefined
  const k = Math.round(x * power)
  if (k / power !== x || k >= 1e15 || k <= -1e15) return undefined
  if (k === 0) return '0'
  const magnitude = Math.abs(k)
  const fraction = magnitude % power
  const whole = integerText((magnitude - fraction) / power)
  const text = fraction === 0 ? whole : `${whole}.${fractionText(fraction, scale)}`
  return k < 0 ? `-${text}` : text
}

/** `fractions[scale][f]`: the digits after the point of f × 10^-scale, trailing zeros left out; scales up to 4, made on first use. */
const fractions: string[][] = []

/** The digits after the point of `fraction` × 10^-scale (0 < fraction < 10^scale), without trailing zeros. */
function fractionText(fraction: number, scale: number): string {
  if (scale <= 4) {
    let table = fractions[scale]
    if (!table) table = fractions[scale] = Array.from({ length: POWERS_OF_TEN[scale]! }, (_, f) => trimZeros(`${f}`.padStart(scale, '0')))
    return table[fraction]!
  }
  return trimZeros(integerText(fraction).padStart(scale, '0'))
}

function trimZeros(digits: string): string {
  let end = digits.length
  while (end > 0 && digits.charCodeAt(end - 1) === 48) end--
  return digits.slice(0, end)
}
