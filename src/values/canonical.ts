/**
 * The canonical value model every connector decodes into and encodes from.
 *
 * Values carry no runtime tag: a field's canonical type comes from its
 * {@link FieldInfo}. The JavaScript representation of each type is fixed so
 * that comparisons and hashes agree whichever database a row came from:
 *
 * | type        | JavaScript value                                                    |
 * |-------------|---------------------------------------------------------------------|
 * | boolean     | `boolean`                                                           |
 * | integer     | `number` when within ±2^53-1, otherwise `bigint` (never rounded)    |
 * | decimal     | `string`, exact, as the database printed it (`"-12.50"`)            |
 * | float       | `number`                                                            |
 * | text        | `string`                                                            |
 * | uuid        | `string`, lower case, 8-4-4-4-12                                    |
 * | bytes       | `Uint8Array` (a Buffer is fine)                                     |
 * | timestamp   | `string` `YYYY-MM-DDTHH:MM:SS.ffffffZ`: UTC, always six digits      |
 * | localtimestamp | `string` `YYYY-MM-DDTHH:MM:SS.ffffff`: no zone, never shifted    |
 * | date        | `string` `YYYY-MM-DD`                                               |
 * | time        | `string` `HH:MM:SS` or `HH:MM:SS.ffffff` (six digits when fractional)|
 * | json        | `string`: JSON text with object keys sorted, no insignificant space |
 * | array       | `string`: canonical JSON array of the elements' canonical forms     |
 * | enum        | `string`: one of the field's `enumValues`                           |
 *
 * Fixed-width timestamps make string order equal time order. See docs/values.md.
 */

/** The canonical types. */
export const CANONICAL_TYPES = [
  'boolean',
  'integer',
  'decimal',
  'float',
  'text',
  'uuid',
  'bytes',
  'timestamp',
  'localtimestamp',
  'date',
  'time',
  'json',
  'array',
  'enum',
] as const

/** One of {@link CANONICAL_TYPES}. */
export type CanonicalType = (typeof CANONICAL_TYPES)[number]

/** A canonical value; which representation applies depends on the field's type. */
export type Value = null | boolean | number | bigint | string | Uint8Array

/** A record: field name to canonical value. */
export type Row = Record<string, Value>

/** Key field values in key order (same order as the sync's `keys`). */
export type KeyValues = Value[]

/** A field as a connector describes it. */
export interface FieldInfo {
  name: string
  type: CanonicalType
  /** The database's own type name, e.g. `numeric(12,2)` or `VARCHAR(255)`. */
  nativeType: string
  nullable: boolean
  /** Character limit for bounded text (`varchar(255)` → 255). */
  maxLength?: number
  /** Decimal precision and scale when declared. */
  precision?: number
  scale?: number
  /**
   * Storage width in bits, so `create: true` makes a column of the same size:
   * integers 8, 16, 32 or 64 (`smallint` → 16, MySQL `TINYINT` → 8), floats
   * 32 or 64 (`real` → 32). Absent when the source does not say (files):
   * destinations then use their widest type (bigint, double precision).
   */
  bits?: 8 | 16 | 32 | 64
  /** An integer that is never negative (MySQL `UNSIGNED`, `BIT(n)`): where types are signed it needs the next wider one. */
  unsigned?: boolean
  /** Filled by the database when an insert leaves it out (serial, identity, AUTO_INCREMENT): a created column is filled the same way. */
  autoIncrement?: boolean
  /** JSON stored as text (PostgreSQL `json`) rather than binary (`jsonb`, what a destination creates by default). */
  jsonText?: boolean
  /**
   * The native type has no canonical counterpart (tsvector, geometry,
   * interval, inet…): values are its text form, and a column `create: true`
   * makes for it is text (the run says so in a note).
   */
  nativeAsText?: boolean
  /**
   * For `array`: the type of its elements (one-dimensional, elements may be
   * null), e.g. `text` for PostgreSQL `text[]` and MySQL `SET`.
   */
  elementType?: CanonicalType
  /**
   * For `enum`, and for an `array` of enum elements (MySQL `SET`, PostgreSQL
   * `mood[]`): the allowed values in the type's own order.
   */
  enumValues?: string[]
}

/** A foreign key from this entity to another. */
export interface ForeignKeyInfo {
  fields: string[]
  references: { entity: string; fields: string[] }
}

/** An entity (table, file) as a connector describes it. */
export interface EntityInfo {
  /** The name to use in a plan (`public.customers` or `customers`). */
  name: string
  fields: FieldInfo[]
  /** Primary key fields in order; empty when the entity has none. */
  primaryKey: string[]
  /** Other unique keys (each a list of fields). */
  uniqueKeys: string[][]
  foreignKeys: ForeignKeyInfo[]
}
