/**
 * The referential-integrity check the engine runs after writing with foreign
 * key checks off: an anti-join from the child table to its parent, the way
 * the database itself would check the constraint (MATCH SIMPLE: a row with
 * any NULL foreign key field references nothing and is never an orphan).
 */
import type { ForeignKeyInfo } from '../../values/canonical.js'

/** The two statements of one check: how many orphans, and the first `limit` of them. */
export interface OrphanQueries {
  count: string
  sample: string
  /** Column names the sample selects, in order: the child's key fields, then the foreign key fields not among them. */
  selected: string[]
}

/**
 * Build the statements for one foreign key.
 * @param child the child table as SQL (already quoted), `parent` likewise
 * @param keys the child's key fields to report orphans by (its primary key; the foreign key fields when it has none)
 * @example orphanQueries('"employees"', '"departments"', fk, ['id'], quote, 20).count
 *   // SELECT count(*) AS n FROM "employees" c WHERE c."dept_id" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "departments" p WHERE p."id" = c."dept_id")
 */
export function orphanQueries(child: string, parent: string, fk: ForeignKeyInfo, keys: readonly string[], quote: (name: string) => string, limit: number): OrphanQueries {
  const notNull = fk.fields.map((f) => `c.${quote(f)} IS NOT NULL`).join(' AND ')
  const match = fk.fields.map((f, i) => `p.${quote(fk.references.fields[i]!)} = c.${quote(f)}`).join(' AND ')
  const where = `WHERE ${notNull} AND NOT EXISTS (SELECT 1 FROM ${parent} p WHERE ${match})`
  const selected = [...keys, ...fk.fields.filter((f) => !keys.includes(f))]
  return {
    count: `SELECT count(*) AS n FROM ${child} c ${where}`,
    sample: `SELECT ${selected.map((f) => `c.${quote(f)}`).join(', ')} FROM ${child} c ${where} ORDER BY ${keys.map((k) => `c.${quote(k)}`).join(', ')} LIMIT ${Math.max(0, Math.floor(limit))}`,
    selected,
  }
}

/** The fields orphans are reported by: the primary key, else the foreign key fields. */
export function orphanKeys(primaryKey: readonly string[], fk: ForeignKeyInfo): string[] {
  return primaryKey.length > 0 ? [...primaryKey] : [...fk.fields]
}
