/**
 * `check` for PostgreSQL: the server version, and whether logical
 * replication could run (wal_level, replication slots, the user's
 * REPLICATION attribute), each problem with its fix.
 */
import type pg from 'pg'
import { TRIGGERS_HINT } from './trigger-capture.js'

/** What the server said, and what it means for change capture; undefined when it returned no row. */
export interface ServerReport {
  version: string
  cdc: { ready: boolean; reason?: string }
  details: Record<string, string | number | boolean>
}

interface SettingsRow {
  version: string
  wal_level: string
  slots: number
  can_replicate: boolean
  user: string
  database: string
}

/**
 * Read the settings change capture needs, in one query. Errors are the
 * driver's; the connector classifies them.
 * @returns undefined when the server returned no row (never seen; reported as INTERNAL by the caller).
 */
export async function checkServer(pool: pg.Pool): Promise<ServerReport | undefined> {
  const result = await pool.query<SettingsRow>(
    `SELECT current_setting('server_version') AS version, current_setting('wal_level') AS wal_level,
            current_setting('max_replication_slots')::int AS slots, current_user AS user, current_database() AS database,
            coalesce((SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user), false) AS can_replicate`,
  )
  const row = result.rows[0]
  if (!row) return undefined
  const problems: string[] = []
  if (row.wal_level !== 'logical') problems.push(`wal_level is '${row.wal_level}': run ALTER SYSTEM SET wal_level = logical and restart PostgreSQL`)
  if (row.slots < 1) problems.push('max_replication_slots is 0: set it to at least 1 (ALTER SYSTEM SET max_replication_slots = 10) and restart')
  if (!row.can_replicate) problems.push(`user '${row.user}' lacks the REPLICATION attribute: run ALTER ROLE "${row.user}" REPLICATION`)
  return {
    version: row.version,
    cdc: problems.length === 0 ? { ready: true } : { ready: false, reason: `${problems.join('; ')}. ${TRIGGERS_HINT}.` },
    details: { database: row.database, user: row.user, wal_level: row.wal_level, max_replication_slots: row.slots, replication: row.can_replicate },
  }
}
