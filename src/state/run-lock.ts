/**
 * One run of a sync at a time, across processes and machines sharing a state
 * store. A run takes its sync's lock before it is recorded, refreshes the
 * lock's heartbeat while it goes on, and releases it when it ends, however
 * it ends. A lock whose holder is gone is stale and taken over:
 *
 * - held on this machine: when its process no longer exists (`kill(pid, 0)`
 *   answers ESRCH), or, for this very process, when no run here holds it (a
 *   restarted container reuses its pid);
 * - held on another machine: when its heartbeat is older than
 *   {@link RUN_LOCK_TTL_MS} (machines' clocks must agree within seconds).
 *
 * @example
 * const held = await acquireRunLock(state, record) // throws LOCKED while another run goes on
 * try { … } finally { await held.release() }
 */
import { hostname } from 'node:os'
import { SynclineError } from '../errors.js'
import type { RunLock, RunRecord, StateStore } from './state-store.js'

/** How often a run refreshes its lock's heartbeat. */
export const RUN_LOCK_HEARTBEAT_MS = 15_000
/** A lock held from another machine is stale once its heartbeat is older than this (four missed heartbeats). */
export const RUN_LOCK_TTL_MS = 60_000

/** A run lock this process holds. */
export interface HeldRunLock {
  readonly lock: RunLock
  /** Aborted, with a `LOCKED` error as reason, if another process took the lock over: the run must stop. */
  readonly lost: AbortSignal
  /** Stop the heartbeat and drop the lock (if still held). */
  release(): Promise<void>
}

interface Holding {
  state: StateStore
  run: RunRecord
}

/** Runs whose lock this process holds, by run id. */
const heldHere = new Map<string, Holding>()

/**
 * Take the run lock of `run.syncId` for `run`, taking over a stale one (and
 * marking the run that held it `failed`, interrupted); `heartbeatMs`
 * (default {@link RUN_LOCK_HEARTBEAT_MS}) is how often it shows life. Throws a
 * {@link SynclineError} `LOCKED` (failure `transient`) naming the holder
 * while a live run holds it.
 */
export async function acquireRunLock(state: StateStore, run: RunRecord, opts: { heartbeatMs?: number } = {}): Promise<HeldRunLock> {
  const heartbeatMs = opts.heartbeatMs ?? RUN_LOCK_HEARTBEAT_MS
  // Known here before the claim lands, so a lock of this process is never
  // taken for a dead one's by another run here in between.
  heldHere.set(run.runId, { state, run })
  try {
    let holder: RunLock | undefined
    // A few rounds: the holder may change between reading it and replacing it.
    for (let attempt = 0; attempt < 5; attempt++) {
      const now = new Date().toISOString()
      const lock: RunLock = { syncId: run.syncId, runId: run.runId, pid: process.pid, host: hostname(), acquiredAt: now, heartbeatAt: now }
      if (await state.claimRunLock(lock)) return hold(state, lock, heartbeatMs)
      holder = await state.getRunLock(run.syncId)
      if (holder === undefined) continue // released meanwhile
      if (!isRunLockStale(holder)) throw lockedError(holder)
      if (await state.claimRunLock(lock, holder)) {
        const stale = holder
        const dead = (await state.listRuns({ syncId: run.syncId, status: 'running' })).find((r) => r.runId === stale.runId)
        if (dead) await state.finishRunIfRunning(interruptedRun(dead, deadHolderReason(stale), stale.heartbeatAt))
        return hold(state, lock, heartbeatMs)
      }
    }
    throw lockedError(holder ?? (await state.getRunLock(run.syncId)))
  } catch (error) {
    heldHere.delete(run.runId)
    throw error
  }
}

/**
 * Whether a lock's holder is gone (see the module comment), judged from
 * this process and machine at time `now`.
 */
export function isRunLockStale(lock: RunLock, now = Date.now()): boolean {
  if (lock.host === hostname()) {
    if (lock.pid === process.pid) return !heldHere.has(lock.runId)
    return !processExists(lock.pid)
  }
  // A heartbeat that does not parse is no sign of life either.
  return !(now - Date.parse(lock.heartbeatAt) <= RUN_LOCK_TTL_MS)
}

/**
 * Mark every run this process holds a lock for `failed` (interrupted), for
 * a process about to exit without letting its runs finish (a second
 * Ctrl-C). The locks stay: this process is gone a moment later, and then
 * the next run takes them over. Never throws.
 */
export async function markHeldRunsInterrupted(reason: string): Promise<void> {
  await Promise.all(
    [...heldHere.values()].map(({ state, run }) =>
      state.finishRunIfRunning(interruptedRun(run, `interrupted: ${reason} (pid ${process.pid} on host ${hostname()}) before finishing; the last committed checkpoint is kept`)).catch(() => false),
    ),
  )
}

/**
 * Why the run that held `lock` (or, without it, a run that has no lock)
 * ended: the text a dead run is marked `failed` with.
 */
export function deadHolderReason(lock: RunLock | undefined): string {
  const kept = 'the last committed checkpoint is kept; run it again'
  if (lock === undefined) return `interrupted: the process running it ended without finishing (it holds no run lock); ${kept}`
  const how = lock.host === hostname() ? 'ended without finishing' : `ended without finishing, or stopped answering (last heartbeat ${lock.heartbeatAt})`
  return `interrupted: the process (pid ${lock.pid} on host ${lock.host}) ${how}; ${kept}`
}

/**
 * `run` as ended `failed` with `error`, finished at `lastSeen` (its last
 * heartbeat, when known; never before it started) or now.
 */
export function interruptedRun(run: RunRecord, error: string, lastSeen?: string): RunRecord {
  const started = Date.parse(run.startedAt)
  const seen = lastSeen === undefined ? Date.now() : Date.parse(lastSeen)
  const finished = Number.isNaN(started) ? seen : Math.max(started, Number.isNaN(seen) ? Date.now() : seen)
  return {
    ...run,
    status: 'failed',
    finishedAt: new Date(finished).toISOString(),
    durationMs: Number.isNaN(started) ? 0 : finished - started,
    error,
  }
}

function hold(state: StateStore, lock: RunLock, heartbeatMs: number): HeldRunLock {
  const controller = new AbortController()
  let beating = false
  const beat = async () => {
    if (beating || controller.signal.aborted) return
    beating = true
    try {
      if (!(await state.touchRunLock(lock.syncId, lock.runId, new Date().toISOString()))) {
        const taker = await state.getRunLock(lock.syncId).catch(() => undefined)
        controller.abort(lostError(lock, taker))
      }
    } catch {
      // The state store is unreachable for now: try again at the next beat.
      // Others see the heartbeat age and take over only after the TTL.
    } finally {
      beating = false
    }
  }
  const timer = setInterval(() => void beat(), heartbeatMs)
  // The heartbeat must never keep a process alive on its own.
  timer.unref()
  return {
    lock,
    lost: controller.signal,
    async release() {
      clearInterval(timer)
      heldHere.delete(lock.runId)
      if (!controller.signal.aborted) await state.releaseRunLock(lock.syncId, lock.runId)
    },
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function lockedError(holder: RunLock | undefined): SynclineError {
  if (holder === undefined) {
    return new SynclineError('LOCKED', 'transient', 'Another run kept taking and releasing this sync\u2019s run lock; run it again.')
  }
  const local = holder.host === hostname()
  const hint = local
    ? `wait for it to finish, or stop that process (kill ${holder.pid}); a lock left by a process that has ended is taken over by the next run.`
    : `wait for it to finish, or stop that process on ${holder.host}; if it has crashed, the next run takes its lock over once its heartbeat is older than ${RUN_LOCK_TTL_MS / 1000} s.`
  return new SynclineError(
    'LOCKED',
    'transient',
    `Sync '${holder.syncId}' is already running (pid ${holder.pid} on host ${holder.host}, since ${holder.acquiredAt}, run ${holder.runId}): ${hint}`,
    { details: { lock: holder } },
  )
}

function lostError(lock: RunLock, taker: RunLock | undefined): SynclineError {
  const who = taker ? ` to pid ${taker.pid} on host ${taker.host} (run ${taker.runId})` : ''
  return new SynclineError(
    'LOCKED',
    'transient',
    `Sync '${lock.syncId}' lost its run lock${who}: its heartbeat had stopped for more than ${RUN_LOCK_TTL_MS / 1000} s, so it was taken for dead. This run stopped at the next batch boundary so two runs never write at once; the last committed checkpoint is kept.`,
    { details: { lock, ...(taker ? { taker } : {}) } },
  )
}
