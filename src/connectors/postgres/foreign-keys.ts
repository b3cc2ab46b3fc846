/**
 * Foreign keys in PostgreSQL: writing with their checks off for one
 * transaction, and finding the rows that point nowhere afterwards.
 *
 * PostgreSQL checks foreign keys with system triggers, which
 * `session_replication_role = replica` skips. It is set with `SET LOCAL`
 * inside each writing transaction, so it ends with that transaction and a
 * pooled connection never carries it to other work. DEFERRABLE constraints
 * would not do: a deferred constraint is still checked at each COMMIT, and
 * every batch (and every sync of a cycle) commits on its own.
 */
import type pg from 'pg'
import { SynclineError } from '../../errors.js'
import type { ForeignKeyInfo, Row } from '../../values/canonical.js'
import type { ForeignKeyChecks, OrphanRows } from '../connector.js'
import { orphanKeys, orphanQueries } from '../sql/orphans-sql.js'
import { quoteIdent } from './dialect.js'
import type { PgTable } from './introspect.js'
import { classifyPgError } from './errors.js'
import type { PgContext } from './source.js'

/**
 * Open a writing transaction; with checks `off`, foreign keys go unchecked
 * until it ends. Throws `FOREIGN_KEY_CHECKS_DENIED` with the fix when the
 * user may not set `session_replication_role` (a superuser, or PostgreSQL
 * 15+ with `GRANT SET ON PARAMETER`).
 */
export async function beginWriting(client: pg.PoolClient, table: PgTable, user: string, checks: ForeignKeyChecks | undefined): Promise<void> {
  await client.query('BEGIN')
  if (checks !== 'off') return
  try {
    await client.query('SET LOCAL session_replication_role = replica')
  } catch (error) {
    if ((error as { code?: string }).code !== '42501') throw error
    const constraints = table.info.foreignKeys.map((fk) => `(${fk.fields.join(', ')}) → ${fk.references.entity}`).join(', ') || 'its foreign keys'
    throw new SynclineError(
      'FOREIGN_KEY_CHECKS_DENIED',
      'config',
      `Writing '${table.info.name}' needs its foreign keys ${constraints} unchecked until the run ends (a cycle or self-reference, or foreignKeys: defer), and user '${user}' may not set session_replication_role. ` +
        `Grant it (PostgreSQL 15+: GRANT SET ON PARAMETER session_replication_role TO ${quoteIdent(user)}), run as a superuser, or set foreignKeys: check on the sync (rows whose parent is not there yet are then rejected).`,
      { cause: error },
    )
  }
}

/** Rows of `entity` whose foreign key points at no row (see Connector.findOrphans). */
export async function findOrphans(ctx: PgContext, entity: string, fk: ForeignKeyInfo, limit: number): Promise<OrphanRows> {
  const child = await ctx.table(entity)
  const parent = await ctx.table(fk.references.entity)
  const queries = orphanQueries(child.sql, parent.sql, fk, orphanKeys(child.info.primaryKey, fk), quoteIdent, limit)
  try {
    const count = Number((await ctx.pool().query<{ n: string }>(queries.count)).rows[0]?.n ?? 0)
    const rows = count > 0 && limit > 0 ? (await ctx.pool().query<Row>(queries.sample)).rows : []
    return { count, rows }
  } catch (error) {
    throw classifyPgError(error, ctx.errorContext(child.info.name))
  }
}
