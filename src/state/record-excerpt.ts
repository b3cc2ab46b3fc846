/**
 * Bounded copies of what a rejected record carries, for the record-error
 * table and `syncline history`. A rejected 20 MB value must not put 20 MB
 * into the state store on every run, nor onto the terminal: each value is
 * kept whole when short, as an excerpt with its full size when long.
 *
 * Shape of a long value in the stored `record` JSON:
 * `{ "excerpt": "<first 200 characters>", "bytes": 20971520 }` (text: its
 * start, `bytes` its UTF-8 size; bytes: `\x` hex of the first 100 bytes and
 * the byte length; anything else: the start of its JSON text and that
 * text's size). At most {@link MAX_STORED_FIELDS} fields are kept, in the
 * record's order (the writer puts the key fields and the rejected field
 * first); the rest are counted under the key `…`.
 */
import { toReadableJson } from './serialize-value.js'

/** Characters of a text value kept as its excerpt. */
export const EXCERPT_CHARACTERS = 200
/** Bytes of a bytes value kept (as hex) as its excerpt. */
export const EXCERPT_BYTES = 100
/** Fields of a rejected record kept in the state store. */
export const MAX_STORED_FIELDS = 50
/** Characters of a reason (or a run's error) kept: a driver's message may quote the value. */
export const MAX_REASON_CHARACTERS = 2000

/** A value too long to keep whole: its start and its full size in bytes. */
export interface ValueExcerpt {
  excerpt: string
  bytes: number
}

/** Longest excerpt written: bytes as `\x` and two hex digits each. */
const LONGEST_EXCERPT = Math.max(EXCERPT_CHARACTERS, 2 + 2 * EXCERPT_BYTES)

/**
 * Whether a stored value is a {@link ValueExcerpt} (so bounding it again
 * keeps it as it is).
 */
export function isExcerpt(value: unknown): value is ValueExcerpt {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false
  const v = value as Record<string, unknown>
  return Object.keys(v).length === 2 && typeof v.excerpt === 'string' && v.excerpt.length <= LONGEST_EXCERPT && typeof v.bytes === 'number'
}

/**
 * The start of `text`, at most `max` characters, never splitting a
 * surrogate pair.
 */
function head(text: string, max: number): string {
  let end = Math.min(max, text.length)
  const last = text.charCodeAt(end - 1)
  if (end < text.length && last >= 0xd800 && last <= 0xdbff) end--
  return text.slice(0, end)
}

/**
 * A value as the state store keeps it: whole when short, else a
 * {@link ValueExcerpt}. Bigints become decimal strings and bytes `\x` hex
 * (as {@link toReadableJson} writes them).
 * @example excerptValue('x'.repeat(20_000_000)) // { excerpt: 'xxx…(200)', bytes: 20000000 }
 */
export function excerptValue(value: unknown): unknown {
  if (typeof value === 'string') {
    if (value.length <= EXCERPT_CHARACTERS) return value
    return { excerpt: head(value, EXCERPT_CHARACTERS), bytes: Buffer.byteLength(value, 'utf8') }
  }
  if (value instanceof Uint8Array) {
    const hex = (bytes: Uint8Array) => `\\x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')}`
    if (value.byteLength <= EXCERPT_BYTES) return hex(value)
    return { excerpt: hex(value.subarray(0, EXCERPT_BYTES)), bytes: value.byteLength }
  }
  if (typeof value === 'bigint') return value.toString()
  if (isExcerpt(value)) return value
  if (value !== null && typeof value === 'object') {
    const json = toReadableJson(value)
    if (json.length <= EXCERPT_CHARACTERS) return JSON.parse(json) as unknown
    return { excerpt: head(json, EXCERPT_CHARACTERS), bytes: Buffer.byteLength(json, 'utf8') }
  }
  return value
}

/**
 * A record as the state store keeps it: every value through
 * {@link excerptValue}, at most {@link MAX_STORED_FIELDS} fields.
 * @example boundedRecord({ id: 1, body: 'x'.repeat(1e6) }) // { id: 1, body: { excerpt: 'xx…', bytes: 1000000 } }
 */
export function boundedRecord(record: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  const names = Object.keys(record)
  for (const name of names.slice(0, MAX_STORED_FIELDS)) out[head(name, EXCERPT_CHARACTERS)] = excerptValue(record[name])
  if (names.length > MAX_STORED_FIELDS) out['…'] = `${names.length - MAX_STORED_FIELDS} more fields not stored`
  return out
}

/**
 * Text cut to `max` characters, saying how much was left out.
 * @example boundedText('a'.repeat(5000), 10) // 'aaaaaaaaaa… (4990 more characters)'
 */
export function boundedText(text: string, max = MAX_REASON_CHARACTERS): string {
  if (text.length <= max) return text
  const kept = head(text, max)
  return `${kept}… (${text.length - kept.length} more characters)`
}

/**
 * A size for people: `512 bytes`, `20.0 MB`.
 * @example formatBytes(20971520) // '20.0 MB'
 */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`
  const units = ['KB', 'MB', 'GB', 'TB']
  let size = bytes / 1024
  let unit = 0
  while (size >= 1024 && unit < units.length - 1) {
    size /= 1024
    unit++
  }
  return `${size.toFixed(1)} ${units[unit]}`
}
