/**
 * Which physical table an entity is (`Connector.physicalIdentity`): the
 * server, the database (schema) and the table, so two URLs that reach one
 * server differently (`127.0.0.1` and `localhost`, `mysql://` and
 * `mariadb://`, another default database or user) give the same identity
 * for the same table.
 */
import type { RowDataPacket } from 'mysql2/promise'
import type { PhysicalIdentity } from '../connector.js'
import { existingTable } from '../sql/table-cache.js'
import { classifyMysqlError } from './errors.js'
import type { MyContext } from './source.js'

/**
 * The server as this connection sees it. MySQL 5.6+ has `@@server_uuid`,
 * generated once per data directory. MariaDB has no such variable; its
 * `@@server_id` is 1 unless replication is set up, so the host name the
 * server reports, its own port and its data directory come with it: facts
 * of the server process, the same whichever address or proxy reaches it.
 * Every user may read these variables.
 */
async function serverOf(ctx: MyContext): Promise<string> {
  const server = await ctx.server()
  const sql =
    server.flavor === 'MySQL'
      ? 'SELECT @@server_uuid AS id'
      : `SELECT CONCAT_WS(' ', @@server_id, @@hostname, @@port, @@datadir) AS id`
  const [rows] = await ctx.pool().query<RowDataPacket[]>(sql)
  return `${server.flavor} ${String(rows[0]?.id ?? '?')}`
}

/** The identity of an existing table or view, or undefined when the entity does not exist. */
export async function physicalIdentity(ctx: MyContext, entity: string): Promise<PhysicalIdentity | undefined> {
  const table = await existingTable(ctx.table(entity))
  if (table === undefined) return undefined
  try {
    return {
      key: JSON.stringify(['mysql', await serverOf(ctx), table.database, table.table]),
      label: `table ${table.database}.${table.table}`,
    }
  } catch (error) {
    throw classifyMysqlError(error, ctx.errorContext(entity))
  }
}
