/**
 * pgoutput's text values to canonical values, exactly as `scan` reads them.
 *
 * The stream sends each value in the type's text output under the
 * walsender's session settings; the replication connection starts with the
 * pool's (`TimeZone=UTC`, `DateStyle=ISO`, `extra_float_digits=3`, see
 * pool.ts), so the codec's parsers apply unchanged, keyed by type OID as in
 * a query result. One difference: a query result reports a domain column
 * with its base type's OID, the stream with the domain's own, so domains are
 * resolved to their base types here first.
 */
import type pg from 'pg'
import type { Row, Value } from '../../values/canonical.js'
import { canonicalTypes, TEXT_ARRAY_OID } from './codec.js'
import { UNCHANGED_TOAST, type RawValue, type RelationMessage } from './pgoutput-messages.js'

/** How to decode one relation's tuples. */
export interface RelationDecoder {
  relation: RelationMessage
  /** Per column, in stream order: the canonical parser. */
  parsers: ((text: string) => unknown)[]
}

/** A decoded tuple: the row, and the columns pgoutput left out as unchanged TOAST. */
export interface DecodedTuple {
  row: Row
  unchanged: string[]
}

/**
 * The decoder for a relation message: each column's type resolved through
 * domains to its base type (one catalog query when there are domains).
 */
export async function relationDecoder(pool: pg.Pool, relation: RelationMessage): Promise<RelationDecoder> {
  const { rows } = await pool.query<{ oid: number; base: number }>(
    `WITH RECURSIVE d(oid, base) AS (
       SELECT oid, typbasetype FROM pg_type WHERE oid = ANY($1::oid[]) AND typtype = 'd'
       UNION ALL SELECT d.oid, t.typbasetype FROM d JOIN pg_type t ON t.oid = d.base AND t.typtype = 'd')
     SELECT d.oid::int8 AS oid, d.base::int8 AS base FROM d JOIN pg_type t ON t.oid = d.base WHERE t.typtype <> 'd'`,
    [[...new Set(relation.columns.map((c) => c.typeOid))]],
  )
  const base = new Map(rows.map((r) => [Number(r.oid), Number(r.base)]))
  const resolved = relation.columns.map((c) => base.get(c.typeOid) ?? c.typeOid)
  // Enum arrays have no fixed OID; scan reads them cast to text[], whose parser applies here too.
  const enumArrays = await pool.query<{ oid: number }>(
    `SELECT t.oid::int8 AS oid FROM pg_type t JOIN pg_type e ON e.oid = t.typelem
      WHERE t.oid = ANY($1::oid[]) AND t.typcategory = 'A' AND e.typtype = 'e'`,
    [[...new Set(resolved)]],
  )
  const textArrays = new Set(enumArrays.rows.map((r) => Number(r.oid)))
  const parsers = resolved.map((oid) => canonicalTypes.getTypeParser(textArrays.has(oid) ? TEXT_ARRAY_OID : oid, 'text'))
  return { relation, parsers }
}

/** Decode a tuple of the relation into a row keyed by column name. */
export function decodeTuple(decoder: RelationDecoder, values: readonly RawValue[]): DecodedTuple {
  const row: Row = {}
  const unchanged: string[] = []
  const { columns } = decoder.relation
  for (let i = 0; i < columns.length; i++) {
    const name = columns[i]!.name
    const value = values[i]
    if (value === UNCHANGED_TOAST) unchanged.push(name)
    else if (value === null || value === undefined) row[name] = null
    else row[name] = decoder.parsers[i]!(value) as Value
  }
  return { row, unchanged }
}
