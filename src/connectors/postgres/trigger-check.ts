/**
 * What `check` reports for trigger-based capture (`cdc: triggers`): the
 * server version (xid8 snapshots need PostgreSQL 13), whether the user may
 * create the change-log schema or already has it, and how many tables it
 * may not put a trigger on, each problem with the GRANT that fixes it.
 */
import type pg from 'pg'
import { quoteIdent } from './dialect.js'

/** Readiness and facts for the check report. */
export interface TriggerCheck {
  cdc: { ready: boolean; reason?: string }
  details: Record<string, string | number | boolean>
}

interface PrivilegeRow {
  version_num: number
  user: string
  database: string
  schema_exists: boolean
  can_create: boolean
  can_use_schema: boolean
  tables: number
  without_trigger: number
  first_without: string | null
}

/** Read the privileges trigger capture needs, in one query (errors are the driver's). */
export async function checkTriggerCapture(pool: pg.Pool): Promise<TriggerCheck> {
  const { rows } = await pool.query<PrivilegeRow>(
    `SELECT current_setting('server_version_num')::int AS version_num, current_user AS user, current_database() AS database,
            to_regnamespace('syncline') IS NOT NULL AS schema_exists,
            has_database_privilege(current_database(), 'CREATE') AS can_create,
            -- CASE, not AND: the privilege functions throw when the schema is missing.
            CASE WHEN to_regclass('syncline.consumers') IS NULL THEN false
                 ELSE has_schema_privilege('syncline', 'USAGE') AND has_table_privilege('syncline.consumers', 'INSERT') END AS can_use_schema,
            count(c.oid)::int AS tables,
            count(c.oid) FILTER (WHERE NOT has_table_privilege(c.oid, 'TRIGGER'))::int AS without_trigger,
            min(format('%I.%I', n.nspname, c.relname)) FILTER (WHERE NOT has_table_privilege(c.oid, 'TRIGGER')) AS first_without
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'syncline') AND n.nspname NOT LIKE 'pg\\_%'`,
  )
  const row = rows[0]!
  const problems: string[] = []
  if (row.version_num < 130000) problems.push('trigger-based capture needs PostgreSQL 13 or later (xid8 snapshots)')
  if (row.schema_exists ? !row.can_use_schema : !row.can_create) {
    problems.push(
      row.schema_exists
        ? `user '${row.user}' may not use the existing schema syncline: run GRANT USAGE ON SCHEMA syncline TO ${quoteIdent(row.user)} and GRANT ALL ON ALL TABLES IN SCHEMA syncline TO ${quoteIdent(row.user)} as its owner`
        : `user '${row.user}' may not create the change-log schema syncline: run GRANT CREATE ON DATABASE ${quoteIdent(row.database)} TO ${quoteIdent(row.user)}`,
    )
  }
  const details: Record<string, string | number | boolean> = {
    database: row.database,
    user: row.user,
    cdc_method: 'triggers',
    change_log_schema: row.schema_exists ? 'syncline (installed)' : 'syncline (created on first feed)',
    tables_without_trigger_privilege: row.without_trigger,
  }
  if (row.first_without) details.trigger_privilege_fix = `GRANT TRIGGER ON ${row.first_without} TO ${quoteIdent(row.user)} (for each table to capture)`
  return { cdc: problems.length === 0 ? { ready: true } : { ready: false, reason: `${problems.join('; ')}.` }, details }
}
