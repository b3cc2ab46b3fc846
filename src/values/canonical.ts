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
