/**
 * Opens the state store a plan's `state:` names: a PostgreSQL URL, or a
 * SQLite file (a plain path or `sqlite:PATH`, relative to the plan file's
 * directory). Each store is loaded lazily, so a plan keeping state in SQLite
 * never loads `pg`, and one keeping it in PostgreSQL never loads SQLite.
 */
import { isAbsolute, resolve } from 'node:path'
import { SynclineError } from '../errors.js'
import { redactUrl } from '../connectors/registry.js'
import type { StateStore } from './state-store.js'

/** Where relative paths start and the password for a PostgreSQL state URL. */
export interface OpenStateStoreOptions {
  /** Directory relative SQLite paths are resolved against: the plan file's directory. */
  baseDir: string
  /** Password for a `postgres://` location (wins over one in the URL). */
  password?: string
}

/**
 * Open the state store at `location`, creating its file or schema and tables.
 *
 * - `postgres://…` / `postgresql://…`: tables in the `syncline` schema.
 * - `sqlite:PATH` or a plain path: an embedded SQLite file, its directory
 *   created if missing; `:memory:` keeps state only for this process.
 *
 * Throws a `ConnectionError` (`CONNECTION_REFUSED`) naming the location when
 * it cannot be opened, and a `SynclineError` (`PLAN_INVALID`) for a URL scheme
 * that cannot hold state.
 * @example const state = await openStateStore('.syncline/state.db', { baseDir: dirname(planPath) })
 */
export async function openStateStore(location: string, opts: OpenStateStoreOptions): Promise<StateStore> {
  const trimmed = location.trim()
  if (/^postgres(ql)?:\/\//i.test(trimmed)) {
    const { openPostgresStateStore } = await import('./postgres-state-store.js')
    return openPostgresStateStore(trimmed, opts.password === undefined ? {} : { password: opts.password })
  }
  const path = sqlitePath(trimmed, opts.baseDir)
  const { openSqliteStateStore } = await import('./sqlite-state-store.js')
  return openSqliteStateStore(path)
}

/** The absolute SQLite file a non-PostgreSQL location names (or `:memory:`). */
export function sqlitePath(location: string, baseDir: string): string {
  const path = /^sqlite:/i.test(location) ? location.slice('sqlite:'.length) : location
  // A scheme with `//` other than the ones above is a mistake, not a file name;
  // a single letter followed by `:` is a Windows drive, so needs the `//`.
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(path) || path === '') {
    throw new SynclineError(
      'PLAN_INVALID',
      'config',
      `state: '${redactUrl(location)}' cannot hold syncline's state. Use a file path (default .syncline/state.db), sqlite:PATH, or a postgres:// URL.`,
      { details: { path: 'state' } },
    )
  }
  if (path === ':memory:') return path
  return isAbsolute(path) ? path : resolve(baseDir, path)
}
