/**
 * `check` for PostgreSQL: the server version, and whether logical
 * replication could run now (wal_level, the user's REPLICATION attribute, a
 * free replication slot and WAL sender), each problem with its fix, and
 * advice on bounding the WAL a stopped feed's slot may keep.
 */
import type pg from 'pg'

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
  slots_used: number
  senders: number
  senders_used: number
  keep_size: string | null
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
            current_setting('max_replication_slots')::int AS slots, (SELECT count(*)::int FROM pg_replication_slots) AS slots_used,
            current_setting('max_wal_senders')::int AS senders, (SELECT count(*)::int FROM pg_stat_replication) AS senders_used,
            current_setting('max_slot_wal_keep_size', true) AS keep_size,
            current_user AS user, current_database() AS database,
            coalesce((SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user), false) AS can_replicate`,
  )
  const row = result.rows[0]
  if (!row) return undefined
  const problems: string[] = []
  if (row.wal_level !== 'logical') problems.push(`wal_level is '${row.wal_level}': run ALTER SYSTEM SET wal_level = logical and restart PostgreSQL (or set cdc: triggers on the connection)`)
  if (row.slots < 1) problems.push('max_replication_slots is 0: set it to at least 1 (ALTER SYSTEM SET max_replication_slots = 10) and restart')
  else if (row.slots_used >= row.slots) {
    problems.push(
      `all ${row.slots} replication slots are in use: drop unused ones (SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE NOT active …) or raise max_replication_slots (ALTER SYSTEM SET max_replication_slots = ${row.slots + 10}) and restart`,
    )
  }
  if (row.senders < 1) problems.push('max_wal_senders is 0: set it to at least 1 (ALTER SYSTEM SET max_wal_senders = 10) and restart')
  else if (row.senders_used >= row.senders) problems.push(`all ${row.senders} WAL senders are busy: raise max_wal_senders (ALTER SYSTEM SET max_wal_senders = ${row.senders + 10}) and restart`)
  if (!row.can_replicate) problems.push(`user '${row.user}' lacks the REPLICATION attribute: run ALTER ROLE "${row.user}" REPLICATION (or set cdc: triggers on the connection)`)
  const details: Record<string, string | number | boolean> = {
    database: row.database,
    user: row.user,
    wal_level: row.wal_level,
    max_replication_slots: row.slots,
    replication_slots_used: row.slots_used,
    max_wal_senders: row.senders,
    wal_senders_used: row.senders_used,
    replication: row.can_replicate,
  }
  if (row.keep_size !== null) details.max_slot_wal_keep_size = row.keep_size
  if (row.keep_size === '-1') {
    details.advice =
      "max_slot_wal_keep_size is -1 (unlimited): a feed that stops reading keeps WAL until the disk fills. Bound it, e.g. ALTER SYSTEM SET max_slot_wal_keep_size = '10GB'; SELECT pg_reload_conf(); a feed that falls behind it gets POSITION_LOST and a realtime sync repairs itself."
  }
  return {
    version: row.version,
    cdc: problems.length === 0 ? { ready: true } : { ready: false, reason: `${problems.join('; ')}.` },
    details,
  }
}
