/**
 * The MySQL {@link SqlDialect} for the shared SQL fragments, and identifier
 * quoting. Identifiers are always quoted with backticks, so mixed case,
 * spaces and quotes in names work; values always travel as `?` parameters
 * of prepared statements.
 */
import type { SqlDialect } from '../sql/sql-builder.js'
import type { CanonicalType, FieldInfo, Value } from '../../values/canonical.js'
import { encodeParam } from './codec.js'

/**
 * Quote an identifier: ``My `x` `` → `` `My ``x``` ``.
 * @example quoteIdent('Order Lines') // '`Order Lines`'
 */
export function quoteIdent(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``
}

/** `` `db`.`table` ``. */
export function quoteTable(database: string, table: string): string {
  return `${quoteIdent(database)}.${quoteIdent(table)}`
}

/**
 * The dialect for one entity. `orderExpression` says how each column is
 * made to order by UTF-8 bytes (a binary NO PAD collation for text, the
 * text form for ENUM and UUID; nothing for numbers and temporal types).
 */
export function mysqlDialect(orderExpression: (quotedColumn: string) => string = (c) => c): SqlDialect {
  return {
    quoteIdent,
    placeholder: () => '?',
    encodeParam: (value: Value, field: FieldInfo) => encodeParam(value, field),
    binaryOrder: (column: string, _type: CanonicalType) => orderExpression(column),
  }
}
