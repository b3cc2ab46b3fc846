/**
 * The webhook connector's errors: an endpoint that cannot be reached or keeps
 * failing is a transient connection error; a record the endpoint rejected is
 * a data error, which the engine's batch writer turns into a record error.
 */
import { ConnectionError, RecordError, SynclineError } from '../../errors.js'

/** The endpoint did not answer within the timeout, or the connection failed, on every attempt. */
export function unreachable(connection: string, endpoint: string, attempts: number, reason: string, cause?: unknown): SynclineError {
  return new ConnectionError(
    'CONNECTION_REFUSED',
    'transient',
    `Connection '${connection}': webhook ${endpoint} ${reason} (${attempts} attempt(s)). Check that the endpoint is up and answers within the timeout (syncline.timeoutMs in the URL query, e.g. ?syncline.timeoutMs=30000).`,
    { cause },
  )
}

/** The endpoint refused the token or signature (401/403): retrying does not help. */
export function refused(connection: string, endpoint: string, status: number): SynclineError {
  return new ConnectionError(
    'AUTH_FAILED',
    'config',
    `Connection '${connection}': webhook ${endpoint} answered ${status}; check the connection's token: or secret: (set from \${VAR}).`,
  )
}

/** The endpoint answered with a status that is neither success nor worth a retry. */
export function badStatus(connection: string, endpoint: string, status: number, body: string): SynclineError {
  return new SynclineError('CONNECTION_REFUSED', 'config', `Connection '${connection}': webhook ${endpoint} answered ${status}: ${body.slice(0, 200)}`)
}

/** One record the endpoint rejected, with its reason. */
export function recordRejected(connection: string, recordId: string, reason: string): SynclineError {
  return new RecordError('VALUE_REJECTED', 'data', `webhook '${connection}' rejected record ${recordId}: ${reason}`)
}
