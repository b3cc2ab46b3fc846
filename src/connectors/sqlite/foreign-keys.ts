/**
 * Foreign keys in SQLite: writing with their checks off on syncline's own
 * connection, and finding the rows that point nowhere afterwards.
 *
 * `PRAGMA foreign_keys` belongs to one connection and cannot change inside a
 * transaction, so it is switched off just before a batch's transaction and
 * on again right after it; better-sqlite3 is synchronous, so nothing else
 * runs on the connection in between. `defer_foreign_keys` would not do: it
 * still checks at each batch's COMMIT.
 */
import type Database from 'better-sqlite3'
import type { EntityInfo, ForeignKeyInfo } from '../../values/canonical.js'
import type { ForeignKeyChecks, OrphanRows } from '../connector.js'
import { orphanKeys, orphanQueries } from '../sql/orphans-sql.js'
import { rowDecoder } from './codec.js'
import { quoteIdent } from './dialect.js'
import { requireFields } from './source.js'

/** Run `write` with this connection's foreign key checks off when `checks` is `off`. */
export function withChecks<T>(db: Database.Database, checks: ForeignKeyChecks | undefined, write: () => T): T {
  if (checks !== 'off') return write()
  db.pragma('foreign_keys = OFF')
  try {
    return write()
  } finally {
    db.pragma('foreign_keys = ON')
  }
}

/** Rows of `entity` whose foreign key points at no row (see Connector.findOrphans). */
export function findOrphans(db: Database.Database, child: EntityInfo, parent: EntityInfo, fk: ForeignKeyInfo, limit: number): OrphanRows {
  const queries = orphanQueries(quoteIdent(child.name), quoteIdent(parent.name), fk, orphanKeys(child.primaryKey, fk), quoteIdent, limit)
  const count = Number(db.prepare(queries.count).pluck().get() as bigint)
  if (count === 0 || limit <= 0) return { count, rows: [] }
  const decode = rowDecoder(child.name, requireFields(child, queries.selected))
  return { count, rows: (db.prepare(queries.sample).raw(true).all() as unknown[][]).map(decode) }
}
