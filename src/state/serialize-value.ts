/**
 * Turning canonical values into text for the state database, and back.
 *
 * Two encodings, for two purposes:
 *
 * - {@link encodeStateValue} / {@link decodeStateValue}: exact. Watermarks,
 *   positions and anything the engine resumes from must come back bit for bit,
 *   so JSON is extended with single-key tag objects for what plain JSON loses:
 *   `{"$bigint":"9223372036854775807"}`, `{"$bytes":"AAH/"}` (base64) and
 *   `{"$number":"NaN" | "Infinity" | "-Infinity" | "-0"}`. A plain object that
 *   happens to look like a tag is wrapped as `{"$object":{…}}`, so decoding is
 *   never ambiguous.
 * - {@link toReadableJson}: for people. Rejected records are stored so a user
 *   can read them in `syncline history` or with any SQL client: bigints as
 *   decimal strings, bytes as `\x` hex (PostgreSQL's bytea notation). Lossy
 *   about types, never about digits.
 */
import { SynclineError } from '../errors.js'

const TAGS = new Set(['$bigint', '$bytes', '$number', '$object'])

/**
 * Encode a canonical value (or an array / plain object of them) as JSON text
 * that {@link decodeStateValue} turns back into an identical value.
 * @example encodeStateValue([2n ** 63n - 1n, 'a']) // '[{"$bigint":"9223372036854775807"},"a"]'
 */
export function encodeStateValue(value: unknown): string {
  return JSON.stringify(toTagged(value))
}

/**
 * Decode text written by {@link encodeStateValue}. Bytes come back as a
 * plain `Uint8Array`.
 * @example decodeStateValue('{"$bytes":"AAE="}') // Uint8Array [0, 1]
 */
export function decodeStateValue(text: string): unknown {
  return fromTagged(JSON.parse(text) as unknown)
}

/**
 * JSON text a person can read: bigints as decimal strings, bytes as `\x` hex,
 * non-finite numbers as strings. Object keys keep their order.
 * @example toReadableJson({ id: 2n ** 64n, raw: new Uint8Array([0, 255]) }) // '{"id":"18446744073709551616","raw":"\\x00ff"}'
 */
export function toReadableJson(value: unknown): string {
  return JSON.stringify(value, function (this: unknown, key: string, v: unknown) {
    // JSON.stringify calls toJSON (Buffer → {type, data}) before the replacer,
    // so look at the holder's original value for bytes.
    const original = (this as Record<string, unknown>)[key]
    if (original instanceof Uint8Array) return `\\x${Buffer.from(original.buffer, original.byteOffset, original.byteLength).toString('hex')}`
    if (typeof v === 'bigint') return v.toString()
    if (typeof v === 'number' && !Number.isFinite(v)) return String(v)
    return v
  })
}

function toTagged(value: unknown): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value
    case 'bigint':
      return { $bigint: value.toString() }
    case 'number':
      if (Number.isNaN(value) || !Number.isFinite(value)) return { $number: String(value) }
      return Object.is(value, -0) ? { $number: '-0' } : value
    case 'object': {
      if (value === null) return null
      if (value instanceof Uint8Array) {
        return { $bytes: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') }
      }
      if (Array.isArray(value)) return value.map((item) => (item === undefined ? null : toTagged(item)))
      if (Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null) {
        const out: Record<string, unknown> = {}
        for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = toTagged(v)
        return looksLikeTag(out) ? { $object: out } : out
      }
      break
    }
  }
  throw new SynclineError(
    'INTERNAL',
    'internal',
    `Cannot store a ${describe(value)} in the state database: only canonical values (null, boolean, number, bigint, string, bytes) and arrays or plain objects of them are allowed.`,
  )
}

function fromTagged(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value
  if (Array.isArray(value)) return value.map(fromTagged)
  const object = value as Record<string, unknown>
  if (looksLikeTag(object)) {
    const [tag, payload] = Object.entries(object)[0]!
    switch (tag) {
      case '$bigint':
        return BigInt(payload as string)
      case '$bytes':
        return new Uint8Array(Buffer.from(payload as string, 'base64'))
      case '$number':
        return Number(payload)
      case '$object':
        return fromPlainObject(payload as Record<string, unknown>)
    }
  }
  return fromPlainObject(object)
}

function fromPlainObject(object: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(object)) out[k] = fromTagged(v)
  return out
}

function looksLikeTag(object: Record<string, unknown>): boolean {
  const keys = Object.keys(object)
  return keys.length === 1 && TAGS.has(keys[0]!)
}

function describe(value: unknown): string {
  if (value === undefined) return 'undefined value'
  if (typeof value === 'object') return `${(value as object).constructor?.name ?? 'object'} object`
  return `${typeof value} value`
}
