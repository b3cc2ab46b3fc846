/**
 * Errors that tell the user what to do.
 *
 * Every error syncline raises on purpose is a {@link SynclineError}: a stable
 * uppercase `code`, a `failure` class that decides retries and exit codes, a
 * message that names the thing and the fix, and the original `cause`.
 */

/** How a failure should be treated: fix the config, retry, skip the record, or report a bug. */
export type FailureType = 'config' | 'transient' | 'data' | 'internal'

/** Stable error codes; scripts may match on these. */
export type ErrorCode =
  | 'PLAN_INVALID'
  | 'PLAN_NOT_FOUND'
  | 'YAML_INVALID'
  | 'ENV_MISSING'
  | 'SYNC_NOT_FOUND'
  | 'CONNECTION_NOT_FOUND'
  | 'CONNECTION_REFUSED'
  | 'CONNECTION_LOST'
  | 'AUTH_FAILED'
  | 'ENTITY_NOT_FOUND'
  | 'ENTITY_UNREADABLE'
  | 'FIELD_NOT_FOUND'
  | 'KEY_NOT_UNIQUE'
  | 'KEY_MISSING'
  | 'TYPE_UNSUPPORTED'
  | 'TRANSFORM_INVALID'
  | 'TRANSFORM_FAILED'
  | 'VALUE_REJECTED'
  | 'SCHEMA_DRIFT'
  | 'ERROR_BUDGET_EXCEEDED'
  | 'CANCELLED'
  | 'LOCKED'
  | 'CAPABILITY_MISSING'
  | 'CDC_NOT_READY'
  | 'POSITION_LOST'
  | 'POSITION_INVALID'
  | 'CONFLICT_NOT_FOUND'
  | 'FOREIGN_KEY_CHECKS_DENIED'
  | 'FOREIGN_KEY_ORPHANS'
  | 'INTERNAL'

/** Options shared by every syncline error. */
export interface SynclineErrorOptions {
  cause?: unknown
  /** Extra structured detail (paths, record keys…) for `--json` output. */
  details?: Record<string, unknown>
}

/** The base of every error syncline raises on purpose. */
export class SynclineError extends Error {
  readonly code: ErrorCode
  readonly failure: FailureType
  readonly details: Record<string, unknown> | undefined

  constructor(code: ErrorCode, failure: FailureType, message: string, options: SynclineErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = code
    this.failure = failure
    this.details = options.details
  }
}

/** One problem found while validating a plan, with the path it sits at. */
export interface PlanIssue {
  /** Path into the plan, e.g. `syncs[1].mapping.fields[0].source`. */
  path: string
  message: string
}

/** The plan file or object is not valid; `issues` lists every problem with its path. */
export class PlanError extends SynclineError {
  readonly issues: PlanIssue[]
  constructor(issues: PlanIssue[], options: SynclineErrorOptions & { code?: ErrorCode } = {}) {
    const lines = issues.map((i) => (i.path ? `  ${i.path}: ${i.message}` : `  ${i.message}`))
    super(options.code ?? 'PLAN_INVALID', 'config', `The sync plan is not valid:\n${lines.join('\n')}`, options)
    this.issues = issues
  }
}

/** A datasource could not be reached or dropped the connection. */
export class ConnectionError extends SynclineError {}

/** A table, entity or field does not exist. */
export class NotFoundError extends SynclineError {}

/** A record was rejected by the destination (too long, NOT NULL, wrong type…). */
export class RecordError extends SynclineError {}

/** The run was cancelled through its AbortSignal. */
export class CancelledError extends SynclineError {
  constructor(message = 'The run was cancelled; the last committed checkpoint is kept.') {
    super('CANCELLED', 'internal', message)
  }
}

/** True when the error is worth retrying (a dropped connection, a deadlock, a timeout). */
export function isTransient(error: unknown): boolean {
  return error instanceof SynclineError && error.failure === 'transient'
}

/** Throw a {@link CancelledError} if the signal has fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError()
}

/**
 * The closest candidate to `name` by edit distance (case-insensitive), or
 * undefined when nothing is reasonably close. Used for "did you mean" hints.
 */
export function closestName(name: string, candidates: Iterable<string>): string | undefined {
  const target = name.toLowerCase()
  let best: string | undefined
  let bestDistance = Infinity
  for (const candidate of candidates) {
    const d = editDistance(target, candidate.toLowerCase())
    if (d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  const limit = Math.max(2, Math.floor(name.length / 3))
  return bestDistance <= limit ? best : undefined
}

/** " Did you mean 'x'?" or an empty string. */
export function didYouMean(name: string, candidates: Iterable<string>): string {
  const match = closestName(name, candidates)
  return match === undefined ? '' : ` Did you mean '${match}'?`
}

/**
 * A missing destination's message with the `create: true` fix said once:
 * connectors already offer it in their not-found messages, most do.
 * @example withCreateHint("Entity 'items' does not exist in shop.db.") // "… Or set destination.create: true to create it."
 */
export function withCreateHint(message: string): string {
  return /\bcreate: true\b/.test(message) ? message : `${message} Or set destination.create: true to create it.`
}

function editDistance(a: string, b: string): number {
  const previous = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let diagonal = previous[0]!
    previous[0] = i
    for (let j = 1; j <= b.length; j++) {
      const above = previous[j]!
      previous[j] = Math.min(above + 1, previous[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1))
      diagonal = above
    }
  }
  return previous[b.length]!
}
