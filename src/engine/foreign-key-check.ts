/**
 * The referential-integrity check after writing with the destination's
 * foreign key checks off: every foreign key of the table is checked in the
 * destination (Connector.findOrphans), and a table with rows pointing
 * nowhere fails its sync with `FOREIGN_KEY_ORPHANS`, naming the table, the
 * key and the first orphan rows. A run that says it succeeded therefore
 * means the destination's foreign keys hold.
 */
import type { Connector } from '../connectors/connector.js'
import { SynclineError, throwIfAborted } from '../errors.js'
import type { ForeignKeyInfo, Row, Value } from '../values/canonical.js'

/** Orphan rows listed per foreign key (the count is complete). */
export const ORPHANS_LISTED = 10

/** Orphans of one foreign key, as `run --json` and history report them. */
export interface OrphanReport {
  entity: string
  /** The foreign key fields of `entity`. */
  fields: string[]
  references: { entity: string; fields: string[] }
  /** Rows whose foreign key matches no row of the referenced entity. */
  count: number
  /** The first {@link ORPHANS_LISTED}: key and foreign key fields, values as JSON allows (big integers as text). */
  rows: Record<string, string | number | boolean | null>[]
}

/** Check the given foreign keys of one destination table; empty when all hold. */
export async function findOrphanReports(destination: Connector, entity: string, foreignKeys: readonly ForeignKeyInfo[], signal?: AbortSignal): Promise<OrphanReport[]> {
  const reports: OrphanReport[] = []
  for (const fk of foreignKeys) {
    throwIfAborted(signal)
    const found = await destination.findOrphans?.(entity, fk, { limit: ORPHANS_LISTED, ...(signal ? { signal } : {}) })
    if (!found || found.count === 0) continue
    reports.push({ entity, fields: [...fk.fields], references: { entity: fk.references.entity, fields: [...fk.references.fields] }, count: found.count, rows: found.rows.map(plainRow) })
  }
  return reports
}

/** The failure of a sync whose table has orphans, listing them. */
export function orphansError(syncId: string, reports: readonly OrphanReport[]): SynclineError {
  const total = reports.reduce((n, r) => n + r.count, 0)
  const lines = reports.map((r) => {
    const listed = r.rows.map((row) => Object.entries(row).map(([k, v]) => `${k}=${String(v)}`).join(' ')).join('; ')
    const more = r.count > r.rows.length ? `; and ${r.count - r.rows.length} more` : ''
    return `${r.entity} (${r.fields.join(', ')}) → ${r.references.entity} (${r.references.fields.join(', ')}): ${r.count} row(s): ${listed}${more}`
  })
  return new SynclineError(
    'FOREIGN_KEY_ORPHANS',
    'data',
    `Sync '${syncId}': ${total} row(s) of ${reports[0]?.entity ?? 'the destination'} reference rows that do not exist (its foreign keys were checked after the run): ${lines.join('. ')}. ` +
      `Add the missing rows at the source (or filter out the rows that reference them), or sync the referenced table in the same run.`,
    { details: { orphans: reports } },
  )
}

/** The orphan reports carried by an error, if it is {@link orphansError}'s. */
export function orphansOf(error: unknown): OrphanReport[] | undefined {
  if (!(error instanceof SynclineError) || error.code !== 'FOREIGN_KEY_ORPHANS') return undefined
  return (error.details as { orphans?: OrphanReport[] } | undefined)?.orphans
}

function plainRow(row: Row): Record<string, string | number | boolean | null> {
  const out: Record<string, string | number | boolean | null> = {}
  for (const [k, v] of Object.entries(row)) out[k] = plainValue(v)
  return out
}

function plainValue(value: Value | undefined): string | number | boolean | null {
  if (value === null || value === undefined) return null
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value
  if (typeof value === 'bigint') return value.toString()
  return JSON.stringify(value, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))
}
