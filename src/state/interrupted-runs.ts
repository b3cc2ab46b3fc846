/**
 * Runs that stay `running` in history after their process died (SIGKILL,
 * a crash, a second Ctrl-C, a machine that went away) are marked `failed`
 * (interrupted) the next time the state is looked at.
 */
import { deadHolderReason, interruptedRun, isRunLockStale } from './run-lock.js'
import type { RunRecord, StateStore } from './state-store.js'

/**
 * Mark every run recorded as `running` whose lock is gone or stale as
 * `failed`, and drop its stale lock. A run still alive in any process keeps
 * its lock fresh and is left alone. Returns the runs marked.
 * @example await markInterruptedRuns(state) // before printing `syncline status`
 */
export async function markInterruptedRuns(state: StateStore): Promise<RunRecord[]> {
  const running = await state.listRuns({ status: 'running' })
  if (running.length === 0) return []
  // Read after the runs: a run takes its lock before it is recorded and
  // releases it after its ending is, so a run listed above that is still
  // going has its lock now; one that ended meanwhile is left as it ended.
  const locks = new Map((await state.listRunLocks()).map((lock) => [lock.syncId, lock]))
  const marked: RunRecord[] = []
  for (const run of running) {
    const lock = locks.get(run.syncId)
    const own = lock?.runId === run.runId ? lock : undefined
    if (own && !isRunLockStale(own)) continue
    const ended = interruptedRun(run, deadHolderReason(own), own?.heartbeatAt)
    if (await state.finishRunIfRunning(ended)) marked.push(ended)
    if (own) await state.releaseRunLock(own.syncId, own.runId)
  }
  return marked
}
