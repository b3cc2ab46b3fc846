/**
 * Errors of the PostgreSQL state store, worded for `state:`. What went
 * wrong is read by the postgres connector's {@link pgErrorKind}, so the
 * state store and the connector agree on which failures are transient;
 * only the messages differ. No message ever carries the password.
 */
import { pgErrorKind } from '../connectors/postgres/errors.js'
import { ConnectionError, SynclineError } from '../errors.js'

/**
 * The error for a failure while opening the store (connecting, migrating):
 * AUTH_FAILED or CONNECTION_REFUSED, `config` when the login, database or
 * privileges are wrong, else `transient`.
 * @param location the URL with its password redacted; @param secret the password, scrubbed from driver messages
 */
export function openError(location: string, secret: string | undefined, error: unknown): SynclineError {
  if (error instanceof SynclineError) return error
  const kind = pgErrorKind(error)
  const reason = scrub(errorMessage(error), secret)
  const details = { location }
  if (kind === 'auth') {
    return new ConnectionError(
      'AUTH_FAILED',
      'config',
      `The PostgreSQL state database ${location} refused the login (${reason}). Check the user and password in 'state:'.`,
      { cause: error, details },
    )
  }
  if (kind === 'no-database') {
    return new ConnectionError(
      'CONNECTION_REFUSED',
      'config',
      `The PostgreSQL state database ${location} does not exist (${reason}). Create it, or point 'state:' at an existing database.`,
      { cause: error, details },
    )
  }
  if (kind === 'privilege') {
    return new ConnectionError(
      'CONNECTION_REFUSED',
      'config',
      `Cannot create the state tables in ${location} (${reason}). Grant the user CREATE on the database, or create the schema for it.`,
      { cause: error, details },
    )
  }
  // An error without any code (a socket that just closed) is an unreachable server too.
  if (kind === 'refused' || kind === 'host-not-found' || kind === 'lost' || errorCode(error) === '') {
    return new ConnectionError(
      'CONNECTION_REFUSED',
      'transient',
      `Cannot reach the PostgreSQL state database ${location} (${reason}). Check that the server is running and reachable, or set 'state:' to a file path to keep state in embedded SQLite.`,
      { cause: error, details },
    )
  }
  return new ConnectionError('CONNECTION_REFUSED', 'transient', `Cannot open the PostgreSQL state database ${location}: ${reason}.`, {
    cause: error,
    details,
  })
}

/**
 * The error for a failure of a read or write on an open store: a lost or
 * refused connection is CONNECTION_LOST and a busy database LOCKED (both
 * `transient`, worth a retry); anything else INTERNAL.
 */
export function operationError(location: string, secret: string | undefined, error: unknown): unknown {
  if (error instanceof SynclineError) return error
  const kind = pgErrorKind(error)
  const reason = scrub(errorMessage(error), secret)
  const details = { location }
  if (kind === 'lost' || kind === 'refused' || kind === 'host-not-found') {
    return new ConnectionError('CONNECTION_LOST', 'transient', `Lost the PostgreSQL state database ${location} (${reason}); retry.`, {
      cause: error,
      details,
    })
  }
  if (kind === 'locked') {
    return new SynclineError('LOCKED', 'transient', `The PostgreSQL state database ${location} was busy (${reason}); retry.`, {
      cause: error,
      details,
    })
  }
  return new SynclineError('INTERNAL', 'internal', `The PostgreSQL state database ${location} failed: ${reason}.`, {
    cause: error,
    details,
  })
}

/** The password in a URL's user info, decoded, if any. */
export function passwordOf(url: string): string | undefined {
  try {
    const password = decodeURIComponent(new URL(url).password)
    return password === '' ? undefined : password
  } catch {
    return undefined
  }
}

/** Never let a password reach a message, even if a driver echoes it. */
export function scrub(text: string, secret: string | undefined): string {
  const out = secret ? text.split(secret).join('***') : text
  return out.replace(/([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*):[^@\s]*@/gi, '$1:***@')
}

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : ''
}

function errorMessage(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return errorMessage(error.errors[0])
  return error instanceof Error ? error.message || error.name : String(error)
}
