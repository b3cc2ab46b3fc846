/**
 * Retries of transient failures (a dropped or refused connection, a
 * deadlock, a serialization failure, a timeout): `retries` more attempts,
 * the first after `retryDelay`, each next one twice as late, capped at
 * {@link MAX_RETRY_DELAY_MS}, with jitter so syncs that failed together
 * (one database restarting) do not all come back at the same instant.
 * Config and data errors are never retried: the same run would fail the
 * same way. Every attempt is a run of its own in history (`attempt` 1, 2, 3…).
 */
import type { SyncResult } from '../engine/run-sync.js'
import { durationMs, type SyncPlan } from '../plan/schema.js'

/** No retry waits longer than this (5 minutes). */
export const MAX_RETRY_DELAY_MS = 300_000

/**
 * The wait before retry number `retry` (1 for the first retry): `baseMs`
 * doubled per retry, capped at {@link MAX_RETRY_DELAY_MS}, then "equal
 * jitter": half of it fixed, half random, so a retry never comes much sooner
 * than planned but retries of many syncs spread out.
 * @example retryDelayMs(1, 1000) // between 500 and 1000
 * @example retryDelayMs(3, 1000) // between 2000 and 4000
 */
export function retryDelayMs(retry: number, baseMs: number, random: () => number = Math.random): number {
  const planned = Math.min(MAX_RETRY_DELAY_MS, baseMs * 2 ** Math.max(0, retry - 1))
  return Math.round(planned / 2 + (random() * planned) / 2)
}

/**
 * Whether a finished attempt should be tried again: it failed with a
 * transient error, and not because another run of the sync holds its lock
 * or took it over (that run goes on; a second one must not start behind it).
 */
export function isRetryable(result: SyncResult): boolean {
  return result.status === 'failed' && result.failure === 'transient' && result.heldBy === undefined && result.lockLost !== true
}

/** How {@link runWithRetries} waits and reports. */
export interface RetryOptions {
  /** Stops the waiting (and further attempts): the last attempt's result is returned. */
  signal?: AbortSignal
  /** Before each wait: the attempt that failed and how long until the next. */
  onRetry?: (failed: SyncResult, delayMs: number) => void
  /** For tests: the jitter source (default Math.random). */
  random?: () => number
}

/**
 * Run `attempt(1)`, and while it fails transiently and `plan.retries` allows,
 * wait and run `attempt(2)`, `attempt(3)`…; resolves with the last result.
 * @example await runWithRetries(plan, (n) => runSync(target, { attempt: n }), { signal })
 */
export async function runWithRetries(
  plan: Pick<SyncPlan, 'retries' | 'retryDelay'>,
  attempt: (n: number) => Promise<SyncResult>,
  opts: RetryOptions = {},
): Promise<SyncResult> {
  const baseMs = durationMs(plan.retryDelay)
  let result = await attempt(1)
  for (let n = 2; n <= plan.retries + 1 && isRetryable(result) && opts.signal?.aborted !== true; n++) {
    const delay = retryDelayMs(n - 1, baseMs, opts.random)
    opts.onRetry?.(result, delay)
    if (!(await sleep(delay, opts.signal))) break
    result = await attempt(n)
  }
  return result
}

/** Wait `ms`; false when the signal fired first. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false)
  return new Promise((resolve) => {
    const done = (completed: boolean) => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      resolve(completed)
    }
    const onAbort = () => done(false)
    const timer = setTimeout(() => done(true), ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
