/**
 * Delivering one batch of change events: a POST with an `Idempotency-Key`
 * (the same for every attempt of the batch), an optional bearer token or
 * HMAC-SHA256 signature, a timeout, and bounded retries with doubling
 * backoff on 5xx, 429 and connection errors.
 */
import { createHash, createHmac } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { throwIfAborted } from '../../errors.js'
import type { KeyValues, Row, Value } from '../../values/canonical.js'
import { badStatus, refused, unreachable } from './errors.js'
import type { WebhookOptions } from './options.js'

/** One change event (DESIGN §1.3). */
export interface ChangeEvent {
  type: 'create' | 'update' | 'delete'
  connection: string
  entity: string
  recordId: string
  key: Record<string, unknown>
  record?: Record<string, unknown>
  changes?: Record<string, unknown>
}

/** Who signs and authorizes the requests; neither value is ever logged. */
export interface WebhookAuth {
  token?: string
  secret?: string
}

/** Header carrying `sha256=HEX`, the HMAC-SHA256 of the raw body with the connection's secret. */
export const SIGNATURE_HEADER = 'X-Syncline-Signature'

/** A value as JSON: bigints as decimal strings, bytes as base64. */
export function jsonValue(value: Value | undefined): unknown {
  if (typeof value === 'bigint') return value.toString()
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64')
  return value ?? null
}

/** A row's fields as JSON values. */
export function jsonRow(row: Row, fields?: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const name of fields ?? Object.keys(row)) out[name] = jsonValue(row[name])
  return out
}

/** The key as an object of its fields. */
export function jsonKey(keys: readonly string[], key: KeyValues): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  keys.forEach((k, i) => (out[k] = jsonValue(key[i])))
  return out
}

/**
 * The batch's idempotency key: a hash of where it goes, how many batches
 * were delivered before it, and its events. A retried batch (in this run or
 * the next, after an unacknowledged attempt) is the same batch with the same key.
 */
export function idempotencyKey(connection: string, entity: string, sequence: number, events: readonly ChangeEvent[]): string {
  return createHash('sha256').update(JSON.stringify([connection, entity, sequence, events])).digest('hex')
}

/** The endpoint's answer: the records it rejected (empty when all were accepted). */
export type Rejections = Map<string, string>

/** POST a batch; resolves with the rejections once the endpoint answered 2xx. */
export async function postBatch(
  connection: string,
  options: WebhookOptions,
  auth: WebhookAuth,
  key: string,
  events: readonly ChangeEvent[],
  signal?: AbortSignal,
): Promise<Rejections> {
  const body = JSON.stringify({ idempotencyKey: key, events })
  const response = await send(connection, options, auth, body, key, signal)
  return rejectionsOf(response)
}

/** POST with retries; resolves with the body of a 2xx answer. */
export async function send(connection: string, options: WebhookOptions, auth: WebhookAuth, body: string, key: string, signal?: AbortSignal): Promise<string> {
  const headers: Record<string, string> = { 'Content-Type': 'application/json', 'Idempotency-Key': key }
  if (auth.token !== undefined) headers.Authorization = `Bearer ${auth.token}`
  if (auth.secret !== undefined) headers[SIGNATURE_HEADER] = `sha256=${createHmac('sha256', auth.secret).update(body).digest('hex')}`
  const endpoint = new URL(options.endpoint).origin + new URL(options.endpoint).pathname
  let last = ''
  let lastCause: unknown
  for (let attempt = 1; attempt <= options.attempts; attempt++) {
    throwIfAborted(signal)
    if (attempt > 1) await sleep(options.backoffMs * 2 ** (attempt - 2), undefined, { signal })
    const timeout = AbortSignal.timeout(options.timeoutMs)
    try {
      const response = await fetch(options.endpoint, { method: 'POST', headers, body, signal: signal ? AbortSignal.any([signal, timeout]) : timeout })
      const text = await response.text()
      if (response.ok) return text
      if (response.status === 401 || response.status === 403) throw refused(connection, endpoint, response.status)
      if (response.status !== 429 && response.status < 500) throw badStatus(connection, endpoint, response.status, text)
      last = `answered ${response.status}`
    } catch (error) {
      if (signal?.aborted) throw error
      if (error instanceof Error && 'code' in error && typeof (error as { failure?: unknown }).failure === 'string') throw error
      lastCause = error
      last = timeout.aborted ? `did not answer within ${options.timeoutMs} ms` : `could not be reached (${error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error)})`
    }
  }
  throw unreachable(connection, endpoint, options.attempts, last, lastCause)
}

/** The documented rejection shape: `{"rejected": [{"recordId": "…", "reason": "…"}]}`; any other body means all accepted. */
function rejectionsOf(text: string): Rejections {
  const rejections: Rejections = new Map()
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return rejections
  }
  const list = (parsed as { rejected?: unknown } | null)?.rejected
  if (!Array.isArray(list)) return rejections
  for (const entry of list as { recordId?: unknown; reason?: unknown }[]) {
    if (typeof entry?.recordId === 'string') rejections.set(entry.recordId, typeof entry.reason === 'string' ? entry.reason : 'rejected by the endpoint')
  }
  return rejections
}
