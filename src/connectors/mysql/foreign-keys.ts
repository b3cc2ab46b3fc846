/**
 * Foreign keys in MySQL and MariaDB: writing with their checks off on one
 * pooled connection, and finding the rows that point nowhere afterwards.
 *
 * `foreign_key_checks` is a session variable: it is switched off on the
 * connection that writes, for one batch, and switched back on before the
 * connection returns to the pool (a connection that cannot be switched back
 * is destroyed), so no other work ever runs without the checks. The global
 * value is never touched.
 */
import type { PoolConnection } from 'mysql2/promise'
import type { ForeignKeyInfo, Row } from '../../values/canonical.js'
import type { ForeignKeyChecks, OrphanRows } from '../connector.js'
import { orphanKeys, orphanQueries } from '../sql/orphans-sql.js'
import { quoteIdent } from './dialect.js'
import { classifyMysqlError } from './errors.js'
import { rowDecoder, type MyContext } from './source.js'

/** Switch this session's checks off for a write (`off`); returns whether they must be switched back on. */
export async function suspendChecks(connection: PoolConnection, checks: ForeignKeyChecks | undefined): Promise<boolean> {
  if (checks !== 'off') return false
  await connection.query('SET SESSION foreign_key_checks = 0')
  return true
}

/** Switch this session's checks back on; false when that failed (the connection must then be destroyed). */
export async function resumeChecks(connection: PoolConnection): Promise<boolean> {
  return connection.query('SET SESSION foreign_key_checks = 1').then(
    () => true,
    () => false,
  )
}

/** Rows of `entity` whose foreign key points at no row (see Connector.findOrphans). */
export async function findOrphans(ctx: MyContext, entity: string, fk: ForeignKeyInfo, limit: number): Promise<OrphanRows> {
  const child = await ctx.table(entity)
  const parent = await ctx.table(fk.references.entity)
  const keys = orphanKeys(child.info.primaryKey, fk)
  const queries = orphanQueries(child.sql, parent.sql, fk, keys, quoteIdent, limit)
  try {
    const [counted] = await ctx.pool().query(queries.count)
    const count = Number((counted as { n: number | string }[])[0]?.n ?? 0)
    if (count === 0 || limit <= 0) return { count, rows: [] }
    const [rows] = await ctx.pool().query(queries.sample)
    return { count, rows: rowDecoder(child, queries.selected, keys)(rows as Row[]) }
  } catch (error) {
    throw classifyMysqlError(error, ctx.errorContext(child.info.name))
  }
}
