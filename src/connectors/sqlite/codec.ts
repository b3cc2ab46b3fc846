/**
 * SQLite values ↔ canonical values.
 *
 * SQLite is dynamically typed: a declared column type only gives the column
 * an affinity, and any cell may hold any storage class. So the declared type
 * decides the canonical type, and decoding accepts every form real files
 * hold: timestamps as ISO-8601 text variants or Unix epoch numbers (seconds,
 * milliseconds or microseconds by magnitude; never Julian day numbers),
 * decimals as REAL, INTEGER or TEXT, booleans as 0/1 or 'true'/'false'.
 *
 * Values arrive with `safeIntegers` on, so every INTEGER is a bigint and
 * int64 stays exact; it is narrowed to a number when within 2^53.
 */
import { RecordError } from '../../errors.js'
import { CANONICAL_TYPES, type CanonicalType, type FieldInfo, type Row, type Value } from '../../values/canonical.js'
import { normalizeDecimal } from '../../values/compare.js'
import { canonicalJson, canonicalJsonFromValue } from '../../values/json.js'
import { parseDate, parseLocalTimestamp, parseTime, parseTimestamp } from '../../values/temporal.js'
import { doubleText } from '../../values/number-text.js'

/** What better-sqlite3 returns for a cell (with safeIntegers) and accepts as a parameter. */
export type SqliteValue = null | bigint | number | string | Buffer

/** A column's SQLite type affinity (sqlite.org/datatype3.html §3.1). */
export type Affinity = 'INTEGER' | 'TEXT' | 'BLOB' | 'REAL' | 'NUMERIC'

/** The canonical type of a column and the limits its declared type states. */
export type ColumnType = Pick<FieldInfo, 'type' | 'maxLength' | 'precision' | 'scale' | 'bits' | 'unsigned' | 'jsonText' | 'elementType'>

/**
 * Declared names that state an integer's width. Every other INT name
 * (`INTEGER`, `INT`, `BIGINT`…) is 64 bits, which is what SQLite stores.
 * `INT4` is the name syncline declares for 32 bits: plain `INT` often means
 * "any integer" in SQLite files.
 */
const INTEGER_BITS: Record<string, 8 | 16 | 32> = { TINYINT: 8, INT1: 8, SMALLINT: 16, INT2: 16, MEDIUMINT: 32, INT4: 32 }

/** The declared integer name for each width (the reverse of {@link INTEGER_BITS}; 64 bits is `INTEGER`, the rowid alias). */
const INTEGER_NAMES = { 8: 'TINYINT', 16: 'SMALLINT', 32: 'INT4', 64: 'INTEGER' } as const

/** Single precision is declared `FLOAT4`; `FLOAT`, `REAL` and `DOUBLE` are the 64-bit REAL SQLite stores. */
const FLOAT32_NAME = 'FLOAT4'

/** JSON from a text-JSON column (PostgreSQL `json`); `JSON_TEXT` is the default, binary JSON (`jsonb`). */
const TEXT_JSON_NAME = 'JSON_PLAIN_TEXT'

// Checked in order: `DECIMAL_TEXT` must be a decimal before TEXT makes it
// text, `DATETIME` a timestamp before DATE makes it a date, and so on.
const TYPE_RULES: readonly [RegExp, CanonicalType][] = [
  [/ARRAY/, 'array'],
  [/ENUM/, 'enum'],
  [/BOOL/, 'boolean'],
  [/DEC|NUMERIC|NUMBER/, 'decimal'],
  // Only a declared type that says so is naive (our LOCAL_TIMESTAMP_TEXT, PostgreSQL's spelling):
  // CURRENT_TIMESTAMP writes UTC, so a plain DATETIME stays a zoned timestamp.
  [/LOCAL_?(TIMESTAMP|DATETIME)|WITHOUT TIME ZONE/, 'localtimestamp'],
  [/TIMESTAMP|DATETIME/, 'timestamp'],
  [/DATE/, 'date'],
  [/TIME/, 'time'],
  [/JSON/, 'json'],
  [/UUID|GUID/, 'uuid'],
  [/INT/, 'integer'],
  [/CHAR|CLOB|TEXT|STRING/, 'text'],
  [/BLOB|BINARY|BYTEA/, 'bytes'],
  [/REAL|FLOA|DOUB/, 'float'],
]

/**
 * The canonical type of a declared SQLite column type. No declared type,
 * or one not recognised, reads as text.
 * @example canonicalTypeOf('VARCHAR(40)') // { type: 'text', maxLength: 40 }
 */
export function canonicalTypeOf(declared: string): ColumnType {
  const upper = declared.trim().toUpperCase()
  const name = upper.replace(/\(.*$/s, '')
  const rule = TYPE_RULES.find(([pattern]) => pattern.test(name))
  const type: CanonicalType = rule ? rule[1] : 'text'
  if (type === 'integer' || type === 'float') return { type, ...widthOf(type, name.trim(), upper) }
  if (type === 'json' && name === TEXT_JSON_NAME) return { type, jsonText: true }
  if (type === 'array') {
    // `INTEGER_ARRAY_TEXT` → integer elements; plain `ARRAY_TEXT` (or `TEXT[]`-less spellings) → text.
    const element = /^([A-Z]+)_ARRAY/.exec(name)?.[1]?.toLowerCase()
    return { type, elementType: (CANONICAL_TYPES as readonly string[]).includes(element ?? '') ? (element as CanonicalType) : 'text' }
  }
  const args = /\(\s*(\d+)\s*(?:,\s*(-?\d+)\s*)?\)/.exec(upper)
  if (!args) return { type }
  const first = Number(args[1])
  if (type === 'text') return { type, maxLength: first }
  if (type === 'decimal') return { type, precision: first, scale: args[2] === undefined ? 0 : Number(args[2]) }
  return { type }
}

/** The width a declared integer or float name states (`SMALLINT UNSIGNED` → 16 bits, unsigned). */
function widthOf(type: 'integer' | 'float', name: string, declared: string): Pick<FieldInfo, 'bits' | 'unsigned'> {
  if (type === 'float') return { bits: name === FLOAT32_NAME ? 32 : 64 }
  const unsigned = /\bUNSIGNED\b/.test(declared)
  const bits = INTEGER_BITS[name.replace(/\bUNSIGNED\b/, '').trim()] ?? 64
  return unsigned ? { bits, unsigned } : { bits }
}

/** SQLite's affinity rules, in SQLite's order. */
export function affinityOf(declared: string): Affinity {
  const upper = declared.toUpperCase()
  if (upper.includes('INT')) return 'INTEGER'
  if (/CHAR|CLOB|TEXT/.test(upper)) return 'TEXT'
  if (upper.includes('BLOB') || upper.trim() === '') return 'BLOB'
  if (/REAL|FLOA|DOUB/.test(upper)) return 'REAL'
  return 'NUMERIC'
}

/**
 * The declared type `ensureEntity` gives a canonical field. Every type kept
 * as text gets a name containing `TEXT`, for TEXT affinity: with the NUMERIC
 * affinity of plain `DECIMAL(38,10)` or `JSON`, SQLite would turn the text
 * '12.50' into the REAL 12.5 and the JSON text '5' into the integer 5.
 * {@link canonicalTypeOf} maps each name back to the same canonical type,
 * and `VARCHAR(n)` / `DECIMAL_TEXT(p,s)` keep their limits, `SMALLINT`,
 * `INT4`, `FLOAT4`, `… UNSIGNED` and `JSON_PLAIN_TEXT` the source's width
 * and kind for round trips (all with the affinity their values need).
 */
export function declaredTypeFor(field: FieldInfo): string {
  switch (field.type) {
    case 'boolean':
      return 'BOOLEAN'
    case 'integer':
      return INTEGER_NAMES[field.bits ?? 64] + (field.unsigned === true ? ' UNSIGNED' : '')
    case 'float':
      return field.bits === 32 ? FLOAT32_NAME : 'REAL'
    case 'decimal':
      if (field.precision === undefined) return 'DECIMAL_TEXT'
      return `DECIMAL_TEXT(${field.precision}${field.scale === undefined ? '' : `,${field.scale}`})`
    case 'text':
      return field.maxLength === undefined ? 'TEXT' : `VARCHAR(${field.maxLength})`
    case 'uuid':
      return 'UUID_TEXT'
    case 'bytes':
      return 'BLOB'
    case 'timestamp':
      return 'TIMESTAMP_TEXT'
    case 'localtimestamp':
      return 'LOCAL_TIMESTAMP_TEXT'
    case 'date':
      return 'DATE_TEXT'
    case 'time':
      return 'TIME_TEXT'
    case 'json':
      return field.jsonText === true ? TEXT_JSON_NAME : 'JSON_TEXT'
    case 'enum':
      // SQLite has no enum and a declared type cannot list values: the allowed values are not kept.
      return 'ENUM_TEXT'
    case 'array':
      return !field.elementType || field.elementType === 'text' ? 'ARRAY_TEXT' : `${field.elementType.toUpperCase()}_ARRAY_TEXT`
  }
}

const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n
const INTEGER_TEXT = /^[+-]?\d+$/
const DECIMAL_TEXT = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/
const PLAIN_DECIMAL = /^-?\d+(?:\.\d+)?$/
const FLOAT_TEXT = /^[+-]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|Infinity|NaN)$/
const UUID_CANONICAL = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const TRUE_TEXT = new Set(['1', 'true', 't', 'yes', 'y', 'on'])
const FALSE_TEXT = new Set(['0', 'false', 'f', 'no', 'n', 'off'])
const utf8 = new TextDecoder('utf-8', { fatal: true })

function show(raw: unknown): string {
  if (raw instanceof Uint8Array) return `a ${raw.length}-byte BLOB`
  const text = typeof raw === 'string' ? JSON.stringify(raw.length > 60 ? `${raw.slice(0, 60)}…` : raw) : String(raw)
  return `${typeof raw === 'string' ? 'the text' : typeof raw === 'bigint' ? 'the integer' : 'the number'} ${text}`
}

function fail(raw: unknown, type: string, why?: string): never {
  throw new TypeError(`${show(raw)} is not ${type}${why ? ` (${why})` : ''}`)
}

/** A bigint as a number when it fits exactly, as canonical integers are. */
function narrow(value: bigint): number | bigint {
  return value >= -9007199254740991n && value <= 9007199254740991n ? Number(value) : value
}

/** Canonical uuid text from `{UPPER-CASE}`, 32 bare hex digits or 16 raw bytes. */
function uuidFrom(raw: unknown): string {
  let hex: string
  if (raw instanceof Uint8Array && raw.length === 16) hex = Buffer.from(raw).toString('hex')
  else if (typeof raw === 'string') hex = raw.trim().replace(/^\{(.*)\}$/, '$1').toLowerCase()
  else return fail(raw, 'a uuid')
  if (/^[0-9a-f]{32}$/.test(hex)) hex = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
  return UUID_CANONICAL.test(hex) ? hex : fail(raw, 'a uuid')
}

/** Exact decimal text from anything numeric; plain text is kept as written (`12.50`). */
function decimalFrom(raw: unknown): string {
  if (typeof raw === 'bigint') return raw.toString()
  if (typeof raw === 'number') {
    if (!Number.isFinite(raw)) return fail(raw, 'a decimal', 'not finite')
    // A double prints as its shortest exact text; only exponent forms need normalizing.
    const text = doubleText(raw)
    return text.includes('e') ? normalizeDecimal(text) : text
  }
  if (typeof raw !== 'string') return fail(raw, 'a decimal')
  const text = raw.trim()
  if (PLAIN_DECIMAL.test(text)) return text
  return DECIMAL_TEXT.test(text) ? normalizeDecimal(text) : fail(raw, 'a decimal')
}

function integerFrom(raw: unknown): number | bigint {
  if (typeof raw === 'bigint') return narrow(raw)
  if (typeof raw === 'number') {
    if (!Number.isInteger(raw)) return fail(raw, 'an integer')
    return Number.isSafeInteger(raw) ? raw : BigInt(raw)
  }
  if (typeof raw === 'string') {
    const text = raw.trim().replace(/\.0*$/, '')
    if (INTEGER_TEXT.test(text)) return narrow(BigInt(text))
  }
  return fail(raw, 'an integer')
}

function booleanFrom(raw: unknown): boolean {
  if (typeof raw === 'bigint') return raw !== 0n
  if (typeof raw === 'number') return raw !== 0
  if (typeof raw === 'boolean') return raw
  if (typeof raw === 'string') {
    const text = raw.trim().toLowerCase()
    if (TRUE_TEXT.has(text)) return true
    if (FALSE_TEXT.has(text)) return false
  }
  return fail(raw, 'a boolean', "use 0/1 or 'true'/'false'")
}

function floatFrom(raw: unknown): number {
  if (typeof raw === 'number') return raw
  if (typeof raw === 'bigint') return Number(raw)
  if (typeof raw === 'string' && FLOAT_TEXT.test(raw.trim())) return Number(raw.trim())
  return fail(raw, 'a number')
}

function textFrom(raw: unknown): string {
  if (typeof raw === 'string') return raw
  if (typeof raw === 'bigint' || typeof raw === 'number' || typeof raw === 'boolean') return String(raw)
  if (raw instanceof Uint8Array) {
    try {
      return utf8.decode(raw)
    } catch {
      return fail(raw, 'text', 'not valid UTF-8')
    }
  }
  return fail(raw, 'text')
}

/** Unix epoch numbers: an INTEGER arrives as a bigint, which parseTimestamp would read as microseconds. */
function timestampFrom(raw: unknown): string {
  try {
    if (typeof raw === 'bigint') return parseTimestamp(narrow(raw))
    if (typeof raw === 'number' || typeof raw === 'string') return parseTimestamp(raw)
  } catch (error) {
    return fail(raw, 'a timestamp', (error as Error).message)
  }
  return fail(raw, 'a timestamp')
}

/** A local timestamp: text as written (no zone added or applied); epoch numbers as their UTC wall clock. */
function localTimestampFrom(raw: unknown): string {
  try {
    if (typeof raw === 'bigint') return parseLocalTimestamp(narrow(raw))
    if (typeof raw === 'number' || typeof raw === 'string') return parseLocalTimestamp(raw)
  } catch (error) {
    return fail(raw, 'a local timestamp', (error as Error).message)
  }
  return fail(raw, 'a local timestamp')
}

function dateFrom(raw: unknown): string {
  try {
    if (typeof raw === 'string') return parseDate(raw)
    if (typeof raw === 'number' || typeof raw === 'bigint') return parseDate(timestampFrom(raw))
  } catch (error) {
    return fail(raw, 'a date', (error as Error).message)
  }
  return fail(raw, 'a date')
}

function timeFrom(raw: unknown): string {
  try {
    if (typeof raw === 'string') return parseTime(raw)
  } catch (error) {
    return fail(raw, 'a time of day', (error as Error).message)
  }
  return fail(raw, 'a time of day')
}

function jsonFrom(raw: unknown): string {
  try {
    if (typeof raw === 'string') return canonicalJson(raw)
    if (raw instanceof Uint8Array) return canonicalJson(utf8.decode(raw))
    // NUMERIC affinity turns the JSON text '5' into the integer 5.
    if (typeof raw === 'bigint' || typeof raw === 'number') return canonicalJson(String(raw))
  } catch (error) {
    return fail(raw, 'JSON', (error as Error).message)
  }
  return fail(raw, 'JSON')
}

/**
 * Decode one stored value into the canonical value of a field of `type`.
 * Throws a TypeError saying what the value is and why it does not fit.
 */
export function decodeValue(raw: unknown, type: CanonicalType): Value {
  if (raw === null || raw === undefined) return null
  switch (type) {
    case 'integer':
      return integerFrom(raw)
    case 'boolean':
      return booleanFrom(raw)
    case 'float':
      return floatFrom(raw)
    case 'decimal':
      return decimalFrom(raw)
    case 'text':
      return textFrom(raw)
    case 'uuid':
      return uuidFrom(raw)
    case 'bytes':
      if (raw instanceof Uint8Array) return raw
      // A TEXT value in a BLOB column: its UTF-8 bytes are what a reader expects.
      return typeof raw === 'string' ? Buffer.from(raw, 'utf8') : fail(raw, 'bytes')
    case 'timestamp':
      return timestampFrom(raw)
    case 'localtimestamp':
      return localTimestampFrom(raw)
    case 'date':
      return dateFrom(raw)
    case 'time':
      return timeFrom(raw)
    case 'json':
      return jsonFrom(raw)
    case 'enum':
      return textFrom(raw)
    case 'array':
      return arrayFrom(raw)
  }
}

/** A JSON array text (arrays are stored as canonical JSON text, see docs/values.md) → the canonical array. */
function arrayFrom(raw: unknown): string {
  const json = jsonFrom(raw)
  return json.startsWith('[') ? json : fail(raw, 'a JSON array')
}

/**
 * Encode a canonical value for storage in (or comparison with) a column of
 * the field's type: timestamps as canonical UTC text, decimals as exact text,
 * json as canonical text, uuids lower case, bytes as a Buffer, booleans and
 * integers as int64. Throws a TypeError when the value does not fit.
 */
export function encodeValue(value: Value, type: CanonicalType): SqliteValue {
  if (value === null || value === undefined) return null
  switch (type) {
    case 'integer': {
      const n = typeof value === 'boolean' ? (value ? 1n : 0n) : integerFrom(value)
      const big = typeof n === 'bigint' ? n : BigInt(n)
      if (big < INT64_MIN || big > INT64_MAX) return fail(value, 'a 64-bit integer', 'SQLite integers are 64-bit')
      return big
    }
    case 'boolean':
      return booleanFrom(value) ? 1n : 0n
    case 'float': {
      const n = floatFrom(value)
      return Number.isNaN(n) ? fail(value, 'a storable number', 'SQLite stores NaN as NULL') : n
    }
    case 'decimal':
      return decimalFrom(value)
    case 'text':
      if (value instanceof Uint8Array) return fail(value, 'text')
      return String(value)
    case 'uuid':
      return uuidFrom(value)
    case 'bytes':
      if (!(value instanceof Uint8Array)) return fail(value, 'bytes', 'give a Uint8Array or Buffer')
      return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength)
    case 'timestamp':
      return timestampFrom(value)
    case 'localtimestamp':
      return localTimestampFrom(value)
    case 'date':
      return dateFrom(value)
    case 'time':
      return timeFrom(value)
    case 'json':
      if (typeof value === 'string') return jsonFrom(value)
      if (value instanceof Uint8Array) return fail(value, 'JSON')
      return canonicalJsonFromValue(value)
    case 'enum':
      if (value instanceof Uint8Array) return fail(value, 'text')
      return String(value)
    case 'array':
      return arrayFrom(value)
  }
}

/**
 * An order-preserving binary form of a decimal: comparing two keys with
 * memcmp (how SQLite compares BLOBs) orders them numerically and exactly,
 * and equal numbers (`12.5`, `12.50`) get equal keys. Used to compare
 * decimals that SQLite keeps as text, where text order would put '10' before '9'.
 *
 * Layout: a sign byte (0x7f negative, 0x80 zero, 0x81 positive), the decimal
 * exponent biased into 4 bytes, then the significant digits; negatives have
 * exponent and digits inverted and end in 0xff so that -1.2 > -1.23.
 */
export function decimalSortKey(value: string): Buffer {
  const normalized = normalizeDecimal(decimalFrom(value))
  if (normalized === '0') return Buffer.from([0x80])
  const negative = normalized.startsWith('-')
  const [int = '', fraction = ''] = (negative ? normalized.slice(1) : normalized).split('.')
  const allDigits = int === '0' ? fraction : int + fraction
  const significant = allDigits.replace(/^0+/, '')
  const exponent = int === '0' ? -(allDigits.length - significant.length) : int.length
  const digits = significant.replace(/0+$/, '')
  const key = Buffer.alloc(1 + 4 + digits.length + (negative ? 1 : 0))
  const biased = exponent + 0x80000000
  key[0] = negative ? 0x7f : 0x81
  key.writeUInt32BE(negative ? 0xffffffff - biased : biased, 1)
  for (let i = 0; i < digits.length; i++) {
    const code = digits.charCodeAt(i)
    key[5 + i] = negative ? 0x39 - (code - 0x30) : code
  }
  if (negative) key[key.length - 1] = 0xff
  return key
}

/**
 * A function that decodes one row of raw cells (in `fields` order) into a
 * canonical row; a value that does not decode is a data error naming the
 * entity and the field.
 */
export function rowDecoder(entity: string, fields: readonly FieldInfo[]): (cells: readonly unknown[]) => Row {
  return (cells) => {
    const row: Row = {}
    for (let i = 0; i < fields.length; i++) {
      const field = fields[i]!
      try {
        row[field.name] = decodeValue(cells[i], field.type)
      } catch (error) {
        throw decodeError(entity, field, cells[i], error)
      }
    }
    return row
  }
}

/** The data error for a stored value that cannot be read as its field's type. */
export function decodeError(entity: string, field: FieldInfo, raw: unknown, cause: unknown): RecordError {
  return new RecordError(
    'VALUE_REJECTED',
    'data',
    `SQLite table '${entity}', field '${field.name}' (${field.nativeType || 'no declared type'}, read as ${field.type}): ${(cause as Error).message}. ` +
      `Fix the stored value, or change the column's declared type to match what it holds.`,
    { cause, details: { entity, field: field.name, value: typeof raw === 'bigint' ? raw.toString() : raw } },
  )
}
