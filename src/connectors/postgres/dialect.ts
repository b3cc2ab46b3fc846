/**
 * The PostgreSQL {@link SqlDialect} for the shared SQL fragments, and
 * identifier quoting. Identifiers are always quoted, so mixed case, spaces
 * and quotes in names work; values always travel as `$n` parameters.
 */
import type { SqlDialect } from '../sql/sql-builder.js'
import type { CanonicalType, FieldInfo, Value } from '../../values/canonical.js'
import { encodeParam } from './codec.js'

/**
 * Quote an identifier: `My "x"` → `"My ""x"""`.
 * @example quoteIdent('Order Lines') // '"Order Lines"'
 */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}

/** `"schema"."table"`. */
export function quoteTable(schema: string, table: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(table)}`
}

/**
 * The dialect for one entity. `orderExpression` says how each column is made
 * to order by UTF-8 bytes: nothing for numbers, `COLLATE "C"` for text in
 * another collation, `::text COLLATE "C"` for types (enums, citext, arrays…)
 * that the canonical model reads as text but PostgreSQL orders otherwise.
 */
export function postgresDialect(orderExpression: (quotedColumn: string) => string = (c) => c): SqlDialect {
  return {
    quoteIdent,
    placeholder: (index: number) => `$${index}`,
    encodeParam: (value: Value, field: FieldInfo) => encodeParam(value, field),
    binaryOrder: (column: string, _type: CanonicalType) => orderExpression(column),
  }
}
