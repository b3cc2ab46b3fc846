/**
 * better-sqlite3 errors as syncline errors: the failure type decides
 * whether the engine retries (a lock held too long), asks the user (a
 * damaged file) or stops.
 */
import { ConnectionError, SynclineError } from '../../errors.js'
import { BUSY_TIMEOUT_MS, isBusy } from './database.js'

/**
 * A SynclineError for a failed SQLite call: a lock held too long is
 * transient (retried), a damaged file needs the user, errors syncline
 * raised itself pass through, anything else is internal.
 */
export function sqliteFailure(error: unknown, doing: string): SynclineError {
  if (error instanceof SynclineError) return error
  const code = String((error as { code?: unknown }).code ?? '')
  const message = (error as Error).message ?? String(error)
  if (isBusy(error)) {
    return new SynclineError('LOCKED', 'transient', `SQLite was locked by another writer for over ${BUSY_TIMEOUT_MS} ms while ${doing}: ${message}. It is retried; keep write transactions of other programs short.`, { cause: error })
  }
  if (code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB') {
    return new ConnectionError('CONNECTION_LOST', 'config', `The SQLite file is damaged (${message}) while ${doing}. Restore it from a backup or check it with \`sqlite3 FILE 'PRAGMA integrity_check'\`.`, { cause: error })
  }
  return new SynclineError('INTERNAL', 'internal', `SQLite failed while ${doing}: ${message}`, { cause: error })
}
