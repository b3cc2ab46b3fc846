/**
 * mysql2 and network errors as syncline errors: the failure type decides
 * whether the engine retries (transient), skips the record (data) or stops
 * (config). Messages name the server as `host:port/db` and never carry the
 * password (MySQL's own messages say only "using password: YES").
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

/** The fields mysql2 puts on a server error, or Node on a socket error. */
interface MysqlErrorLike {
  message: string
  code?: string
  errno?: number
  sqlState?: string
  fatal?: boolean
}

const NETWORK_REFUSED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EAI_AGAIN', 'EADDRNOTAVAIL', 'ER_CON_COUNT_ERROR'])
const NETWORK_LOST = new Set([
  'ECONNRESET',
  'EPIPE',
  'ECONNABORTED',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'PROTOCOL_PACKETS_OUT_OF_ORDER',
  'ER_SERVER_SHUTDOWN',
  'ER_CONNECTION_KILLED',
  'CR_SERVER_GONE_ERROR',
  'CR_SERVER_LOST',
])

/**
 * Server errors about one record's values: too long, NULL in NOT NULL, a
 * value that is not a date, out of range, a duplicate of another row's
 * unique value, a missing referenced row, a failed CHECK (MariaDB's JSON
 * check included), invalid JSON, a string the column's character set cannot hold.
 */
const DATA_ERRORS = new Set([
  1048, // ER_BAD_NULL_ERROR
  1062, // ER_DUP_ENTRY
  1153, // ER_NET_PACKET_TOO_LARGE
  1263, // ER_WARN_NULL_TO_NOTNULL
  1264, // ER_WARN_DATA_OUT_OF_RANGE
  1265, // WARN_DATA_TRUNCATED
  1292, // ER_TRUNCATED_WRONG_VALUE
  1300, // ER_INVALID_CHARACTER_STRING
  1364, // ER_NO_DEFAULT_FOR_FIELD
  1365, // ER_DIVISION_BY_ZERO
  1366, // ER_TRUNCATED_WRONG_VALUE_FOR_FIELD
  1367, // ER_ILLEGAL_VALUE_FOR_TYPE
  1406, // ER_DATA_TOO_LONG
  1411, // ER_WRONG_VALUE_FOR_TYPE
  1416, // ER_CANT_CREATE_GEOMETRY_OBJECT
  1451, // ER_ROW_IS_REFERENCED_2
  1452, // ER_NO_REFERENCED_ROW_2
  1525, // ER_WRONG_VALUE
  1690, // ER_DATA_OUT_OF_RANGE
  3140, // ER_INVALID_JSON_TEXT (MySQL)
  3819, // ER_CHECK_CONSTRAINT_VIOLATED (MySQL)
  4025, // ER_CONSTRAINT_FAILED (MariaDB: CHECK, and the JSON type's json_valid)
])

/** Whether the error is a server error about a record's values. */
export function isDataError(error: unknown): boolean {
  const errno = (error as MysqlErrorLike | undefined)?.errno
  return typeof errno === 'number' && DATA_ERRORS.has(errno)
}

/** Whether the connection that raised this error is gone and must not go back to the pool. */
export function isConnectionBroken(error: unknown): boolean {
  if (error instanceof SynclineError) return error.code === 'CONNECTION_LOST' || error.code === 'CONNECTION_REFUSED'
  const e = error as MysqlErrorLike | undefined
  if (!e || typeof e.message !== 'string') return false
  return e.fatal === true || (e.code !== undefined && (NETWORK_LOST.has(e.code) || NETWORK_REFUSED.has(e.code)))
}

/** The column a server message names: `column 'name'` or ``column `db`.`t`.`name` ``. */
export function columnInMessage(message: string): string | undefined {
  const quoted = /column '((?:[^']|'')*)'/i.exec(message)
  if (quoted) return quoted[1]!.replace(/''/g, "'")
  const dotted = /column (?:`(?:[^`]|``)*`\.)*`((?:[^`]|``)*)`/i.exec(message)
  return dotted ? dotted[1]!.replace(/``/g, '`') : undefined
}

/** The 1-based row of a multi-row statement a server message names (`at row 3`). */
export function rowInMessage(message: string): number | undefined {
  const match = /at row (\d+)/i.exec(message)
  return match ? Number(match[1]) : undefined
}

/**
 * Classify an error thrown by mysql2 (or the socket under it).
 * SynclineErrors pass through unchanged.
 */
export function classifyMysqlError(error: unknown, context: ErrorContext): SynclineError {
  if (error instanceof SynclineError) return error
  const e: MysqlErrorLike = error instanceof Error ? (error as MysqlErrorLike) : { message: String(error) }
  const code = e.code ?? ''
  const errno = e.errno
  const at = `${context.endpoint.host}:${context.endpoint.port}`
  const conn = `connection '${context.connection}' (${context.endpoint.label})`
  const entity = context.entity ? `Entity '${context.entity}' in ${conn}` : `MySQL at ${conn}`
  const options = { cause: error, details: { code: code || undefined, errno, entity: context.entity } }

  // The "host" is then a piece of the password: name neither, say how to write the URL.
  if (context.endpoint.strayAt && (code === 'ENOTFOUND' || NETWORK_REFUSED.has(code))) {
    return new ConnectionError('CONNECTION_REFUSED', 'config', `Cannot connect to MySQL for connection '${context.connection}': ${STRAY_AT_FIX}.`, {
      cause: error,
      details: { code: code || undefined, entity: context.entity },
    })
  }

  if (NETWORK_REFUSED.has(code) || /connect ETIMEDOUT|connection timeout/i.test(e.message)) {
    const why = code === 'ER_CON_COUNT_ERROR' ? 'too many connections' : e.message
    return new ConnectionError(
      'CONNECTION_REFUSED',
      'transient',
      `Cannot connect to MySQL at ${at} for connection '${context.connection}': ${why}. Check that the server is running and accepts TCP connections on ${at} (bind-address, skip-networking, firewall) and that the URL's host and port are right.`,
      options,
    )
  }
  if (code === 'ENOTFOUND') {
    return new ConnectionError(
      'CONNECTION_REFUSED',
      'config',
      `Cannot connect to MySQL for connection '${context.connection}': host '${context.endpoint.host}' not found. Fix the host in the URL.`,
      options,
    )
  }
  if (/^ER_(DB)?ACCESS_DENIED/.test(code) || code === 'ER_NOT_SUPPORTED_AUTH_MODE' || code === 'HANDSHAKE_NO_SSL_SUPPORT' || code === 'AUTH_SWITCH_PLUGIN_ERROR') {
    return new ConnectionError(
      'AUTH_FAILED',
      'config',
      `MySQL at ${at} rejected user '${context.endpoint.user}' for connection '${context.connection}': ${e.message}. Check the user name, the password (password: in the connection, e.g. password: \${MYSQL_PASSWORD}, or in the URL) and that the user may connect from this host (CREATE USER 'name'@'host').`,
      options,
    )
  }
  if (code === 'ER_BAD_DB_ERROR') {
    return new ConnectionError(
      'CONNECTION_REFUSED',
      'config',
      `Database '${context.endpoint.database}' does not exist on ${at} (connection '${context.connection}'). Create it (CREATE DATABASE) or fix the database name in the URL.`,
      options,
    )
  }
  // After the handshake errors above, which are fatal too.
  if (NETWORK_LOST.has(code) || e.fatal === true) {
    return new ConnectionError(
      'CONNECTION_LOST',
      'transient',
      `Lost the connection to MySQL at ${at} (connection '${context.connection}'): ${e.message}. Batches committed before it are kept; run again to continue. If this keeps happening, check the server log, wait_timeout and max_allowed_packet.`,
      options,
    )
  }
  if (code === 'ER_TABLEACCESS_DENIED_ERROR' || code === 'ER_COLUMNACCESS_DENIED_ERROR' || code === 'ER_SPECIFIC_ACCESS_DENIED_ERROR') {
    return new SynclineError(
      'AUTH_FAILED',
      'config',
      `${entity}: user '${context.endpoint.user}' lacks a privilege: ${e.message}. GRANT it (e.g. GRANT SELECT, INSERT, UPDATE, DELETE ON db.table TO the user) or use another user.`,
      options,
    )
  }
  if (code === 'ER_NO_SUCH_TABLE' || code === 'ER_BAD_TABLE_ERROR') {
    return new NotFoundError('ENTITY_NOT_FOUND', 'config', `${entity}: ${e.message}. Check the entity name, or set create: true on the destination.`, options)
  }
  if (code === 'ER_BAD_FIELD_ERROR') {
    return new NotFoundError('FIELD_NOT_FOUND', 'config', `${entity}: ${e.message}. Check the field names in the mapping.`, options)
  }
  if (code === 'ER_LOCK_DEADLOCK' || code === 'ER_LOCK_WAIT_TIMEOUT') {
    return new SynclineError('LOCKED', 'transient', `${entity}: ${e.message}. Nothing of this batch was written; run again (the daemon retries by itself).`, options)
  }
  if (code === 'ER_QUERY_INTERRUPTED' || code === 'ER_STATEMENT_TIMEOUT' || code === 'ER_QUERY_TIMEOUT') {
    return new SynclineError('CANCELLED', 'transient', `${entity}: the statement was interrupted (${e.message}); max_statement_time / max_execution_time may be too low for this batch size.`, options)
  }
  if (code === 'ER_OPTION_PREVENTS_STATEMENT' && /read.only/i.test(e.message)) {
    return new SynclineError('PLAN_INVALID', 'config', `${entity}: the server is read-only (${e.message}). Point the destination at a writable server.`, options)
  }
  if (isDataError(error)) return recordErrorFromMysql(e, context, options)
  return new SynclineError('INTERNAL', 'internal', `${entity}: ${e.message}${code ? ` (${code})` : ''}.`, options)
}

function recordErrorFromMysql(e: MysqlErrorLike, context: ErrorContext, options: { cause: unknown; details: Record<string, unknown> }): RecordError {
  const field = columnInMessage(e.message)
  let reason = e.message
  if (e.errno === 1048 && field !== undefined) reason = 'NULL is not allowed (the column is NOT NULL)'
  if (e.errno === 1153) reason = `${e.message}: the record is larger than the server's max_allowed_packet; raise it (SET GLOBAL max_allowed_packet = 1073741824)`
  return new RecordError('VALUE_REJECTED', 'data', `Entity '${context.entity ?? '?'}' rejected a record: ${field !== undefined && e.errno === 1048 ? `field ${field}: ` : ''}${reason}.`, {
    ...options,
    details: { ...options.details, field },
  })
}
