/**
 * pg and network errors as syncline errors: the failure type decides whether
 * the engine retries (transient), skips the record (data) or stops (config).
 * Messages name the server as `host:port/db` and never carry the password.
 */
import { ConnectionError, NotFoundError, RecordError, SynclineError } from '../../errors.js'
import type { Endpoint } from './pool.js'
import { STRAY_AT_FIX } from '../server-url.js'

/** Where an error happened, for its message. */
export interface ErrorContext {
  /** The connection name from the plan. */
  connection: string
  endpoint: Endpoint
  /** The entity being read or written, when there is one. */
  entity?: string
}

/** The fields pg puts on a server error (pg's DatabaseError) or Node on a socket error. */
interface PgErrorLike {
  message: string
  code?: string
  column?: string
  table?: string
  schema?: string
  constraint?: string
  detail?: string
}

const NETWORK_REFUSED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EAI_AGAIN', 'EADDRNOTAVAIL'])
const NETWORK_LOST = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED'])
/**
 * pg's words for a lost connection that carry no code: the socket ended, or
 * a query was sent on a client whose connection had already failed (a pooled
 * client the server terminated between two queries).
 */
const LOST_MESSAGE = /Connection terminated|Client has encountered a connection error|Client was closed and is not queryable/i

/** Whether an error is a SQLSTATE class 22 (data exception) or 23 (integrity constraint) error. */
export function isDataError(error: unknown): boolean {
  const code = (error as PgErrorLike | undefined)?.code
  return typeof code === 'string' && /^2[23][0-9A-Z]{3}$/.test(code)
}

/** Whether the connection that raised this error is gone and must not go back to the pool. */
export function isConnectionBroken(error: unknown): boolean {
  const classified = error instanceof SynclineError ? error : undefined
  if (classified) return classified.code === 'CONNECTION_LOST' || classified.code === 'CONNECTION_REFUSED'
  const e = error as PgErrorLike | undefined
  if (!e || typeof e.message !== 'string') return false
  return (e.code !== undefined && (NETWORK_LOST.has(e.code) || /^(08|57P0)/.test(e.code))) || LOST_MESSAGE.test(e.message)
}

/**
 * What went wrong, by SQLSTATE, socket code or pg's words: the one reading
 * of a pg error that the connector and the PostgreSQL state store share
 * (each words its own message).
 * - `refused`: the server cannot be reached or takes no connection now
 * - `host-not-found`, `lost` (the connection died), `auth`, `no-database`,
 *   `privilege`, `no-entity`, `no-field`, `no-operator`, `locked`
 *   (serialization failure, deadlock, lock timeout), `cancelled`, `data`
 *   (a value or constraint the server rejected), `other`
 */
export type PgErrorKind =
  | 'refused'
  | 'host-not-found'
  | 'lost'
  | 'auth'
  | 'no-database'
  | 'privilege'
  | 'no-entity'
  | 'no-field'
  | 'no-operator'
  | 'locked'
  | 'cancelled'
  | 'data'
  | 'other'

/** The {@link PgErrorKind} of an error thrown by pg or the socket under it. */
export function pgErrorKind(error: unknown): PgErrorKind {
  const e: PgErrorLike = error instanceof Error ? (error as PgErrorLike) : { message: String(error) }
  const code = e.code ?? ''
  if (NETWORK_REFUSED.has(code) || /connection timeout|timeout expired/i.test(e.message) || code === '57P03' || code === '53300') return 'refused'
  if (code === 'ENOTFOUND') return 'host-not-found'
  if (NETWORK_LOST.has(code) || /^08/.test(code) || code === '57P01' || code === '57P02' || LOST_MESSAGE.test(e.message)) return 'lost'
  if (code === '28P01' || code === '28000' || /SASL|password must be a string|password authentication/i.test(e.message)) return 'auth'
  if (code === '3D000') return 'no-database'
  if (code === '42501') return 'privilege'
  if (code === '42P01' || code === '3F000') return 'no-entity'
  if (code === '42703') return 'no-field'
  if (code === '42883') return 'no-operator'
  if (code === '40001' || code === '40P01' || code === '55P03') return 'locked'
  if (code === '57014') return 'cancelled'
  if (isDataError(error) || code === '21000') return 'data'
  return 'other'
}

/**
 * Classify an error thrown by pg (or the socket under it). SynclineErrors
 * pass through unchanged.
 */
export function classifyPgError(error: unknown, context: ErrorContext): SynclineError {
  if (error instanceof SynclineError) return error
  const e: PgErrorLike = error instanceof Error ? (error as PgErrorLike) : { message: String(error) }
  const code = e.code ?? ''
  const kind = pgErrorKind(error)
  const at = `${context.endpoint.host}:${context.endpoint.port}`
  const conn = `connection '${context.connection}' (${context.endpoint.label})`
  const entity = context.entity ? `Entity '${context.entity}' in ${conn}` : `PostgreSQL at ${conn}`
  const options = { cause: error, details: { sqlstate: code || undefined, entity: context.entity } }

  // The "host" is then a piece of the password: name neither, say how to write the URL.
  if (context.endpoint.strayAt && (code === 'ENOTFOUND' || NETWORK_REFUSED.has(code))) {
    return new ConnectionError('CONNECTION_REFUSED', 'config', `Cannot connect to PostgreSQL for connection '${context.connection}': ${STRAY_AT_FIX}.`, {
      cause: error,
      details: { code: code || undefined, entity: context.entity },
    })
  }

  switch (kind) {
    case 'refused': {
      const why = code === '57P03' ? 'the server is starting up or shutting down' : code === '53300' ? 'too many connections' : e.message
      return new ConnectionError(
        'CONNECTION_REFUSED',
        'transient',
        `Cannot connect to PostgreSQL at ${at} for connection '${context.connection}': ${why}. Check that the server is running and accepts TCP connections on ${at} (listen_addresses, pg_hba.conf, firewall) and that the URL's host and port are right.`,
        options,
      )
    }
    case 'host-not-found':
      return new ConnectionError(
        'CONNECTION_REFUSED',
        'config',
        `Cannot connect to PostgreSQL for connection '${context.connection}': host '${context.endpoint.host}' not found. Fix the host in the URL.`,
        options,
      )
    case 'lost':
      return new ConnectionError(
        'CONNECTION_LOST',
        'transient',
        `Lost the connection to PostgreSQL at ${at} (connection '${context.connection}'): ${e.message}. Batches committed before it are kept; run again to continue. If this keeps happening, check the server log and network.`,
        options,
      )
    case 'auth': {
      const fix = /SASL|must be a string/.test(e.message)
        ? 'The server asks for a password and none was given: add password: to the connection (e.g. password: ${PGPASSWORD}).'
        : 'Check the user name and the password (password: in the connection, or in the URL).'
      return new ConnectionError('AUTH_FAILED', 'config', `PostgreSQL at ${at} rejected user '${context.endpoint.user}' for connection '${context.connection}': ${e.message}. ${fix}`, options)
    }
    case 'no-database':
      return new ConnectionError(
        'CONNECTION_REFUSED',
        'config',
        `Database '${context.endpoint.database}' does not exist on ${at} (connection '${context.connection}'). Create it (CREATE DATABASE) or fix the database name in the URL.`,
        options,
      )
    case 'privilege':
      return new SynclineError(
        'AUTH_FAILED',
        'config',
        `${entity}: user '${context.endpoint.user}' lacks a privilege: ${e.message}. GRANT it (e.g. GRANT SELECT, INSERT, UPDATE, DELETE ON the table) or use another user.`,
        options,
      )
    case 'no-entity':
      return new NotFoundError('ENTITY_NOT_FOUND', 'config', `${entity}: ${e.message}. Check the entity name, or set create: true on the destination.`, options)
    case 'no-field':
      return new NotFoundError('FIELD_NOT_FOUND', 'config', `${entity}: ${e.message}. Check the field names in the mapping.`, options)
    case 'no-operator':
      return new SynclineError('PLAN_INVALID', 'config', `${entity}: ${e.message}. A filter or key compares a field with an operator its type lacks (e.g. like on a number); change the filter.`, options)
    case 'locked':
      return new SynclineError('LOCKED', 'transient', `${entity}: ${e.message} (SQLSTATE ${code}). Nothing of this batch was written; run again (the daemon retries by itself).`, options)
    case 'cancelled':
      return new SynclineError('CANCELLED', 'transient', `${entity}: the statement was cancelled (${e.message}); statement_timeout may be too low for this batch size.`, options)
    case 'data':
      return recordErrorFromPg(e, context, options)
    case 'other':
      return new SynclineError('INTERNAL', 'internal', `${entity}: ${e.message}${code ? ` (SQLSTATE ${code})` : ''}.`, options)
  }
}

function recordErrorFromPg(e: PgErrorLike, context: ErrorContext, options: { cause: unknown; details: Record<string, unknown> }): RecordError {
  const entity = context.entity ?? [e.schema, e.table].filter(Boolean).join('.')
  const field = e.column ? `field ${e.column}: ` : ''
  let reason = e.message
  if (e.code === '23502' && e.column) reason = 'NULL is not allowed (the column is NOT NULL)'
  const detail = e.detail ? ` (${e.detail})` : ''
  return new RecordError('VALUE_REJECTED', 'data', `Entity '${entity}' rejected a record: ${field}${reason}${detail}.`, {
    ...options,
    details: { ...options.details, field: e.column, constraint: e.constraint },
  })
}
