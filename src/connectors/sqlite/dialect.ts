/**
 * The SQLite {@link SqlDialect} for the shared SQL fragments: `?`
 * placeholders, quoted identifiers, text keys in BINARY collation.
 *
 * SQLite compares what a cell stores, not what it means: '10' sorts before
 * '9' in a decimal column kept as text, '2026-01-01 10:00:00' (what
 * CURRENT_TIMESTAMP writes) sorts before the canonical
 * '2026-01-01T09:00:00.000000Z', and 'ABC…' is not the uuid 'abc…'. So each
 * compared column gets a {@link CompareMode}: compare the stored value when
 * every stored value already is in canonical form (fast, uses indexes), or
 * compare `syncline_comparable(…)`, a function that decodes the cell and
 * returns the same form the parameters are encoded in (exact, never wrong,
 * but a full scan and a call into JavaScript per row). Timestamps all in one
 * common spelling compare through a `substr` expression instead (a full
 * scan too, at SQLite's speed).
 */
import type Database from 'better-sqlite3'
import { RecordError, SynclineError } from '../../errors.js'
import type { CanonicalType, EntityInfo, FieldInfo, Value } from '../../values/canonical.js'
import type { SqlDialect } from '../sql/sql-builder.js'
import { affinityOf, decimalSortKey, decodeValue, encodeValue, type SqliteValue } from './codec.js'

/**
 * Quote an identifier: `My "x"` → `"My ""x"""`.
 * @example quoteIdent('Order Lines') // '"Order Lines"'
 */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}

/** A SQL string literal, for names only (values always travel as parameters). */
export function sqlString(text: string): string {
  return `'${text.replace(/'/g, "''")}'`
}

/**
 * How a column is compared: as stored, through {@link COMPARABLE_FUNCTION},
 * or (timestamps all in one of the {@link TIMESTAMP_SPELLINGS}) through the
 * SQL expression that makes that spelling canonical.
 */
export type CompareMode = 'stored' | 'normalized' | TimestampSpelling

/** The SQL function that turns a cell into its comparable canonical form. */
export const COMPARABLE_FUNCTION = 'syncline_comparable'

/** Types compared as text, which must compare byte by byte. */
const TEXTUAL = new Set<CanonicalType>(['text', 'uuid', 'timestamp', 'localtimestamp', 'date', 'time', 'json', 'enum', 'array'])

/** Types whose canonical value is also what {@link encodeValue} stores (and compares). */
const ENCODED_AS_CANONICAL = new Set<CanonicalType>(['timestamp', 'localtimestamp', 'date', 'time', 'uuid'])

const D = '[0-9]'
const H = '[0-9a-f]'
const LOCAL_TIMESTAMP_GLOB = `${D.repeat(4)}-${D.repeat(2)}-${D.repeat(2)}T${D.repeat(2)}:${D.repeat(2)}:${D.repeat(2)}.${D.repeat(6)}`
const TIMESTAMP_GLOB = `${LOCAL_TIMESTAMP_GLOB}Z`
const TIME_GLOB = `${D.repeat(2)}:${D.repeat(2)}:${D.repeat(2)}`

const DATE = `${D.repeat(4)}-${D.repeat(2)}-${D.repeat(2)}`
const MILLIS = D.repeat(3)

/**
 * Timestamp spellings SQLite makes canonical itself with `substr`: when
 * every cell of a column is in one of them (JavaScript's `toISOString()`,
 * `CURRENT_TIMESTAMP`, `strftime('%Y-%m-%d %H:%M:%f')`…), compares, orders
 * and filters use that expression instead of a call into JavaScript per
 * row, which cost about a microsecond each and made an incremental run
 * from such a column slower than a full sync (issue 6).
 */
export const TIMESTAMP_SPELLINGS = {
  'iso-millis': { glob: `${DATE}T${TIME_GLOB}.${MILLIS}Z`, canonical: (c: string) => `substr(${c}, 1, 23) || '000Z'` },
  'iso-seconds': { glob: `${DATE}T${TIME_GLOB}Z`, canonical: (c: string) => `substr(${c}, 1, 19) || '.000000Z'` },
  'sql-seconds': { glob: `${DATE} ${TIME_GLOB}`, canonical: (c: string) => `substr(${c}, 1, 10) || 'T' || substr(${c}, 12, 8) || '.000000Z'` },
  'sql-millis': { glob: `${DATE} ${TIME_GLOB}.${MILLIS}`, canonical: (c: string) => `substr(${c}, 1, 10) || 'T' || substr(${c}, 12, 12) || '000Z'` },
} as const

/** A name of {@link TIMESTAMP_SPELLINGS}. */
export type TimestampSpelling = keyof typeof TIMESTAMP_SPELLINGS

/**
 * Fields in range, so that the `substr` form is the canonical one: `24:00`
 * is the next day and `:60` the next minute, which only the function
 * knows. (A day its month lacks, `02-30`, still fails when decoded.)
 */
const IN_RANGE = (c: string) =>
  `substr(${c}, 6, 2) BETWEEN '01' AND '12' AND substr(${c}, 9, 2) BETWEEN '01' AND '31' AND substr(${c}, 12, 2) < '24' AND substr(${c}, 18, 2) < '60'`

/**
 * Per type, the condition a stored value meets when it is already in the
 * canonical form, so that comparing it as stored compares the canonical value.
 */
const CANONICAL_STORAGE: Partial<Record<CanonicalType, (column: string) => string>> = {
  timestamp: (c) => `typeof(${c}) = 'text' AND ${c} GLOB '${TIMESTAMP_GLOB}'`,
  localtimestamp: (c) => `typeof(${c}) = 'text' AND ${c} GLOB '${LOCAL_TIMESTAMP_GLOB}'`,
  date: (c) => `typeof(${c}) = 'text' AND ${c} GLOB '${D.repeat(4)}-${D.repeat(2)}-${D.repeat(2)}'`,
  time: (c) => `typeof(${c}) = 'text' AND (${c} GLOB '${TIME_GLOB}' OR (${c} GLOB '${TIME_GLOB}.${D.repeat(6)}' AND substr(${c}, 10) <> '000000'))`,
  uuid: (c) => `typeof(${c}) = 'text' AND ${c} GLOB '${H.repeat(8)}-${H.repeat(4)}-${H.repeat(4)}-${H.repeat(4)}-${H.repeat(12)}'`,
  boolean: (c) => `typeof(${c}) = 'integer' AND ${c} IN (0, 1)`,
}

/**
 * The parameter (or comparable form) of a canonical value for a field:
 * its stored encoding, or for decimals compared through the function, the
 * order-preserving {@link decimalSortKey}.
 */
function comparableParam(value: Value, type: CanonicalType, mode: CompareMode): SqliteValue {
  const encoded = encodeValue(value, type)
  return type === 'decimal' && mode === 'normalized' && typeof encoded === 'string' ? decimalSortKey(encoded) : encoded
}

/**
 * Register {@link COMPARABLE_FUNCTION} on a connection:
 * `syncline_comparable(type, cell, fieldName)`.
 */
export function registerFunctions(db: Database.Database): void {
  db.function(COMPARABLE_FUNCTION, { deterministic: true, safeIntegers: true }, (type: unknown, cell: unknown, name: unknown) => {
    try {
      const value = decodeValue(cell, type as CanonicalType)
      // Canonical text is its own encoding; encoding it would parse it again (half the cost of a call).
      return typeof value === 'string' && ENCODED_AS_CANONICAL.has(type as CanonicalType) ? value : comparableParam(value, type as CanonicalType, 'normalized')
    } catch (error) {
      throw new RecordError(
        'VALUE_REJECTED',
        'data',
        `SQLite field '${String(name)}' holds a value that cannot be read as ${String(type)}: ${(error as Error).message}. Fix the stored value.`,
        { cause: error, details: { field: name } },
      )
    }
  })
}

/** How a field must be compared, checked against the data it holds now. */
function modeOf(db: Database.Database, table: string, field: FieldInfo): CompareMode {
  if (field.type === 'decimal') {
    // Decimals kept as text (our DECIMAL_TEXT) compare as text; with a numeric affinity they compare as numbers.
    const affinity = affinityOf(field.nativeType)
    return affinity === 'TEXT' || affinity === 'BLOB' ? 'normalized' : 'stored'
  }
  const canonical = CANONICAL_STORAGE[field.type]
  if (!canonical) return 'stored'
  const column = quoteIdent(field.name)
  const every = (condition: string) =>
    Number(db.prepare(`SELECT EXISTS (SELECT 1 FROM ${quoteIdent(table)} WHERE ${column} IS NOT NULL AND NOT (${condition}))`).pluck().get()) === 0
  if (every(canonical(column))) return 'stored'
  if (field.type === 'timestamp' || field.type === 'localtimestamp') {
    for (const [name, spelling] of Object.entries(TIMESTAMP_SPELLINGS)) {
      if (every(`typeof(${column}) = 'text' AND ${column} GLOB '${spelling.glob}' AND ${IN_RANGE(column)}`)) return name as TimestampSpelling
    }
  }
  return 'normalized'
}

/**
 * Compare modes per entity and field, cached: a scan re-checks (one query per
 * compared field), lookups and counts reuse an answer up to `maxAgeMs` old.
 * Writes through the connector store canonical forms, so they never turn a
 * `stored` column into one that needs `normalized`.
 */
export class CompareModes {
  private readonly cache = new Map<string, { mode: CompareMode; at: number }>()

  constructor(private readonly maxAgeMs = 60_000) {}

  /** The modes of the named fields of `entity`; `fresh` ignores the cache. */
  of(db: Database.Database, entity: EntityInfo, names: Iterable<string>, fresh = false): Map<string, CompareMode> {
    const modes = new Map<string, CompareMode>()
    const now = Date.now()
    for (const name of names) {
      if (modes.has(name)) continue
      const field = entity.fields.find((f) => f.name === name)
      if (!field) continue
      const key = `${entity.name}\u0000${name}\u0000${field.nativeType}`
      const cached = this.cache.get(key)
      if (!fresh && cached && now - cached.at <= this.maxAgeMs) {
        modes.set(name, cached.mode)
        continue
      }
      const mode = modeOf(db, entity.name, field)
      this.cache.set(key, { mode, at: now })
      modes.set(name, mode)
    }
    return modes
  }
}

function formatValue(value: Value): string {
  if (typeof value === 'bigint') return value.toString()
  if (value instanceof Uint8Array) return `<${value.length} bytes>`
  return JSON.stringify(value)
}

/**
 * The dialect for one query, given the compare mode of each compared field
 * (fields not listed compare as stored).
 */
export function sqliteDialect(modes: ReadonlyMap<string, CompareMode> = new Map()): Required<SqlDialect> {
  const comparable = (column: string, field: FieldInfo): string => {
    const mode = modes.get(field.name) ?? 'stored'
    if (mode === 'stored') return column
    if (mode === 'normalized') return `${COMPARABLE_FUNCTION}(${sqlString(field.type)}, ${column}, ${sqlString(field.name)})`
    const canonical = TIMESTAMP_SPELLINGS[mode].canonical(column)
    // The spellings' canonical form is zoned; a local timestamp is the same digits without the `Z`.
    return field.type === 'localtimestamp' ? `substr(${canonical}, 1, 26)` : `(${canonical})`
  }
  return {
    quoteIdent,
    placeholder: () => '?',
    encodeParam: (value: Value, field: FieldInfo) => {
      try {
        return comparableParam(value, field.type, modes.get(field.name) ?? 'stored')
      } catch (error) {
        throw new SynclineError(
          'PLAN_INVALID',
          'config',
          `The value ${formatValue(value)} given for field '${field.name}' cannot be compared with a ${field.type}: ${(error as Error).message}. Fix the filter value in the plan.`,
          { cause: error, details: { field: field.name } },
        )
      }
    },
    binaryOrder: (column: string, type: CanonicalType) => (TEXTUAL.has(type) ? `${column} COLLATE BINARY` : column),
    comparable,
    // One fixed-width spelling sorts as stored, in canonical order (and an index on the column can serve it).
    orderable: (column: string, field: FieldInfo) => (modes.get(field.name) ?? 'stored') in TIMESTAMP_SPELLINGS ? column : comparable(column, field),
  }
}
