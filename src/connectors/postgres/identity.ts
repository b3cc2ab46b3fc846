/**
 * Which physical table an entity is (`Connector.physicalIdentity`): the
 * cluster, the database and the table's schema and name, so two URLs that
 * reach one server differently (`127.0.0.1` and `localhost`, another user,
 * a connection pooler) give the same identity for the same table.
 */
import type { PhysicalIdentity } from '../connector.js'
import { existingTable } from '../sql/table-cache.js'
import { classifyPgError } from './errors.js'
import type { PgContext } from './source.js'

/** SQLSTATEs meaning pg_control_system() may not be called here: no privilege, no such function (before 9.6). */
const NO_CONTROL_DATA = new Set(['42501', '42883'])

/**
 * The cluster as this connection sees it. `pg_control_system()`'s
 * system_identifier is set once by initdb and shared by physical replicas
 * (a replica's table is the primary's table). Anyone may call it by default,
 * but a hosted service may revoke it; then the postmaster's start time (to
 * the microsecond) with its port stands in: one server process's lifetime,
 * which two servers share only by coincidence. That fallback does not
 * recognise a replica as its primary.
 */
async function clusterOf(ctx: PgContext): Promise<{ cluster: string; database: string }> {
  const pool = ctx.pool()
  try {
    const { rows } = await pool.query<{ id: string; database: string }>('SELECT system_identifier::text AS id, current_database() AS database FROM pg_control_system()')
    return { cluster: `system ${rows[0]?.id ?? '?'}`, database: rows[0]?.database ?? '' }
  } catch (error) {
    if (!NO_CONTROL_DATA.has(String((error as { code?: unknown }).code))) throw error
  }
  const { rows } = await pool.query<{ started: string; port: string; database: string }>(
    `SELECT pg_postmaster_start_time()::text AS started, current_setting('port') AS port, current_database() AS database`,
  )
  return { cluster: `started ${rows[0]?.started ?? '?'} port ${rows[0]?.port ?? '?'}`, database: rows[0]?.database ?? '' }
}

/** The identity of an existing table or view, or undefined when the entity does not exist. */
export async function physicalIdentity(ctx: PgContext, entity: string): Promise<PhysicalIdentity | undefined> {
  const table = await existingTable(ctx.table(entity))
  if (table === undefined) return undefined
  try {
    const { cluster, database } = await clusterOf(ctx)
    return {
      key: JSON.stringify(['postgres', cluster, database, table.schema, table.table]),
      label: `table ${table.schema}.${table.table} in database ${database}`,
    }
  } catch (error) {
    throw classifyPgError(error, ctx.errorContext(entity))
  }
}
