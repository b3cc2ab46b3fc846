/**
 * PostgreSQL values to canonical values and back (src/values/canonical.ts).
 *
 * Decoding happens in per-pool type parsers, keyed by the type OID of each
 * result column, so a row is converted once, while pg builds it. pg's own
 * default parsers are never used for temporal, numeric or JSON types: they
 * drop microseconds (timestamptz → Date), round int8 and numeric, and keep
 * JSON key order. Nothing here touches pg's global parser registry.
 *
 * The connection runs with `TimeZone=UTC` and `DateStyle=ISO`, so timestamps
 * arrive as `2026-11-21 10:00:00.123456+00`; the parsers below rely on that.
 */
import pg from 'pg'
import { canonicalJson } from '../../values/json.js'
import { formatPgArray, parsePgArray } from '../../values/pg-array.js'
import { parseDate, parseLocalTimestamp, parseTime, parseTimestamp } from '../../values/temporal.js'
import type { CanonicalType, FieldInfo, Value } from '../../values/canonical.js'

/** The built-in type OIDs the codec parses itself. */
export const OID = {
  bool: 16,
  bytea: 17,
  bpchar: 1042,
  int8: 20,
  int2: 21,
  int4: 23,
  oid: 26,
  json: 114,
  float4: 700,
  float8: 701,
  date: 1082,
  time: 1083,
  timestamp: 1114,
  timestamptz: 1184,
  timetz: 1266,
  numeric: 1700,
  uuid: 2950,
  jsonb: 3802,
} as const

type Parser = (text: string) => unknown

const identity: Parser = (text) => text
// pg's bytea parser (hex and escape formats → Buffer) is exact; reuse it without registering anything.
const parseBytea = pg.types.getTypeParser(OID.bytea, 'text') as Parser

/**
 * int8 → number when it is a safe integer, else bigint (exact).
 * @example decodeInt8('9007199254740993') // 9007199254740993n
 */
export function decodeInt8(text: string): number | bigint {
  const n = Number(text)
  return Number.isSafeInteger(n) ? n : BigInt(text)
}

/**
 * float4 → the double nearest the shortest decimal that names the same
 * float32, so a float4 holding 0.1 reads back as 0.1 (not 0.100000001, which
 * `extra_float_digits = 3` prints) and compares equal to the value written.
 */
export function decodeFloat4(text: string): number {
  const value = Number.parseFloat(text)
  if (!Number.isFinite(value)) return value
  const single = Math.fround(value)
  for (let digits = 1; digits <= 9; digits++) {
    const candidate = Number(single.toPrecision(digits))
    if (Math.fround(candidate) === single) return candidate
  }
  return single
}

const UTC_TIMESTAMP = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?(?:\+00)?$/

/**
 * timestamptz text (ISO style, session time zone UTC) → canonical
 * `YYYY-MM-DDTHH:MM:SS.ffffffZ`; text without an offset is read as UTC.
 * BC years become astronomical years (1 BC → 0000); `infinity` and
 * `-infinity` stay as they are (they still sort after and before every date).
 */
export function decodeTimestamp(text: string): string {
  const match = UTC_TIMESTAMP.exec(text)
  if (match) return `${match[1]}T${match[2]}.${(match[3] ?? '').padEnd(6, '0')}Z`
  if (text === 'infinity' || text === '-infinity') return text
  return parseTimestamp(bcToAstronomical(text))
}

const LOCAL_TIMESTAMP = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?$/

/**
 * timestamp without time zone text → canonical local timestamp
 * `YYYY-MM-DDTHH:MM:SS.ffffff`: the digits as stored, no zone, so no
 * session or server time zone can shift them. BC years and infinity as
 * for {@link decodeTimestamp}.
 */
export function decodeLocalTimestamp(text: string): string {
  const match = LOCAL_TIMESTAMP.exec(text)
  if (match) return `${match[1]}T${match[2]}.${(match[3] ?? '').padEnd(6, '0')}`
  if (text === 'infinity' || text === '-infinity') return text
  return parseLocalTimestamp(bcToAstronomical(text))
}

/** date text → canonical `YYYY-MM-DD` (BC and infinity as for timestamps). */
export function decodeDate(text: string): string {
  if (text.length === 10) return text
  if (text === 'infinity' || text === '-infinity') return text
  return parseDate(bcToAstronomical(text))
}

/** `0044-03-15 BC` → `-0043-03-15`: PostgreSQL has no year 0, ISO 8601 does. */
function bcToAstronomical(text: string): string {
  if (!text.endsWith(' BC')) return text
  const dash = text.indexOf('-')
  const year = 1 - Number(text.slice(0, dash))
  const rest = text.slice(dash, -3)
  return year === 0 ? `0000${rest}` : `-${String(-year).padStart(4, '0')}${rest}`
}

/**
 * timetz → canonical time in UTC. The offset is applied, not dropped, so
 * `10:00:00+02` reads as `08:00:00`: the canonical model has no zoned time,
 * and values written back land with offset +00 (the session time zone).
 */
export function decodeTimetz(text: string): string {
  const match = /^(\d\d):(\d\d):(\d\d)(\.\d+)?([+-])(\d\d)(?::?(\d\d))?(?::?(\d\d))?$/.exec(text)
  if (!match) return parseTime(text)
  const [, h, m, s, fraction = '', sign, oh, om = '0', os = '0'] = match
  const offset = (sign === '-' ? -1 : 1) * (Number(oh) * 3600 + Number(om) * 60 + Number(os))
  const local = Number(h) * 3600 + Number(m) * 60 + Number(s)
  if (local === 86_400 && fraction === '') return '24:00:00'
  const utc = (((local - offset) % 86_400) + 86_400) % 86_400
  const pad = (n: number) => String(n).padStart(2, '0')
  return parseTime(`${pad(Math.floor(utc / 3600))}:${pad(Math.floor((utc % 3600) / 60))}:${pad(utc % 60)}${fraction}`)
}

/**
 * A parser that falls back to the raw text instead of throwing: parsers run
 * inside pg's protocol handler, where an exception would break the
 * connection rather than fail one value.
 */
function lenient(parse: Parser): Parser {
  return (text) => {
    try {
      return parse(text)
    } catch {
      return text
    }
  }
}

const PARSERS = new Map<number, Parser>([
  [OID.bool, (text) => text === 't'],
  [OID.bytea, parseBytea],
  [OID.int8, decodeInt8],
  [OID.int2, Number],
  [OID.int4, Number],
  [OID.oid, Number],
  [OID.float4, decodeFloat4],
  [OID.float8, Number.parseFloat],
  [OID.numeric, identity],
  // char(n) pads with spaces that PostgreSQL itself ignores (and drops when
  // casting to text): without this, 'a' written to char(5) reads back as
  // 'a    ' and looks changed on every run.
  [OID.bpchar, (text) => text.replace(/ +$/, '')],
  [OID.date, lenient(decodeDate)],
  [OID.time, lenient(parseTime)],
  [OID.timetz, lenient(decodeTimetz)],
  [OID.timestamp, lenient(decodeLocalTimestamp)],
  [OID.timestamptz, lenient(decodeTimestamp)],
  [OID.json, lenient(canonicalJson)],
  [OID.jsonb, lenient(canonicalJson)],
  [OID.uuid, (text) => text.toLowerCase()],
])

/**
 * Built-in array type OIDs → their element OID and canonical element type.
 * Arrays of enums have no fixed OID: they are read cast to `text[]`
 * (introspect.ts), which lands here too.
 */
export const ARRAY_ELEMENTS = new Map<number, [number, CanonicalType]>([
  [1000, [OID.bool, 'boolean']],
  [1001, [OID.bytea, 'bytes']],
  [1005, [OID.int2, 'integer']],
  [1007, [OID.int4, 'integer']],
  [1016, [OID.int8, 'integer']],
  [1028, [OID.oid, 'integer']],
  [1231, [OID.numeric, 'decimal']],
  [1021, [OID.float4, 'float']],
  [1022, [OID.float8, 'float']],
  [1009, [25, 'text']],
  [1015, [1043, 'text']],
  [1014, [OID.bpchar, 'text']],
  [1003, [19, 'text']],
  [1182, [OID.date, 'date']],
  [1183, [OID.time, 'time']],
  [1270, [OID.timetz, 'time']],
  [1115, [OID.timestamp, 'timestamp']],
  [1185, [OID.timestamptz, 'timestamp']],
  [199, [OID.json, 'json']],
  [3807, [OID.jsonb, 'json']],
  [2951, [OID.uuid, 'uuid']],
])

/** The text `[]` cast that reads an enum array through the `text[]` parser. */
export const TEXT_ARRAY_OID = 1009

for (const [arrayOid, [elementOid, elementType]] of ARRAY_ELEMENTS) {
  const element = PARSERS.get(elementOid) ?? identity
  PARSERS.set(arrayOid, lenient((text) => parsePgArray(text, element, elementType)))
}

/**
 * The `types` option for a pg Pool or Client: canonical parsers for the
 * types above and text for everything else (arrays, interval, inet, enums,
 * citext… keep PostgreSQL's own text form), instead of pg's defaults.
 * @example new pg.Pool({ connectionString, types: canonicalTypes })
 */
export const canonicalTypes = {
  getTypeParser(oid: number, format?: string): Parser {
    if (format === 'binary') return identity
    return PARSERS.get(oid) ?? identity
  },
}

/**
 * A canonical value as a query parameter for a field: pg sends parameters as
 * text, and the canonical forms (decimal strings, ISO timestamps with `Z`,
 * canonical JSON text, bigints) are all valid PostgreSQL input. Bytes become
 * a Buffer, and non-text values bound for a text field are stringified.
 */
export function encodeParam(value: Value | undefined, field: Pick<FieldInfo, 'type' | 'elementType'>): unknown {
  if (value === null || value === undefined) return null
  switch (field.type) {
    case 'bytes':
      return value instanceof Uint8Array && !Buffer.isBuffer(value) ? Buffer.from(value.buffer, value.byteOffset, value.byteLength) : value
    case 'array':
      return typeof value === 'string' ? formatPgArray(value, field.elementType ?? 'text') : value
    case 'text':
    case 'uuid':
    case 'json':
      return typeof value === 'string' ? value : value instanceof Uint8Array ? Buffer.from(value).toString('utf8') : String(value)
    default:
      return value
  }
}

const ARRAY_SPECIAL = /[\\"]/

/**
 * A PostgreSQL array literal (`{"a","b\\"c",NULL}`) for one field's values
 * across rows, built in one pass: the parameter of `unnest($1::type[])`.
 * Every element is quoted, so empty strings, spaces, commas and braces need
 * nothing more; bytes are written as `\\x` hex.
 */
export function encodeArrayLiteral(values: readonly (Value | undefined)[], field: Pick<FieldInfo, 'type' | 'elementType'>): string {
  const parts = new Array<string>(values.length)
  for (let i = 0; i < values.length; i++) {
    const value = values[i]
    if (value === null || value === undefined) parts[i] = 'NULL'
    else if (value instanceof Uint8Array && field.type === 'bytes') parts[i] = `"\\\\x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}"`
    else {
      const text = field.type === 'array' && typeof value === 'string' ? formatPgArray(value, field.elementType ?? 'text') : typeof value === 'string' ? value : value instanceof Uint8Array ? Buffer.from(value).toString('utf8') : String(value)
      parts[i] = ARRAY_SPECIAL.test(text) ? `"${text.replace(/[\\"]/g, '\\$&')}"` : `"${text}"`
    }
  }
  return `{${parts.join(',')}}`
}

export { encodeCopyText } from '../../values/copy-text.js'
