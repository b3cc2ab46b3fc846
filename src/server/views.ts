/**
 * The JSON the API answers with (DESIGN §1.5), built from the daemon's
 * slots and the state store. Canonical values (bigints, bytes) become JSON
 * the way `--json` writes them.
 */
import { jsonReplacer } from '../cli/output.js'
import type { Daemon } from '../scheduler/daemon.js'
import type { SyncSlot } from '../scheduler/sync-slot.js'
import type { RecordErrorEntry, RunCounts, RunRecord } from '../state/state-store.js'
import type { SyncStatus } from '../sync-manager.js'

/** One run in `GET /api/syncs/:id/runs`: the run's counts plus what identifies and ends it. */
export interface RunView extends RunCounts {
  runId: string
  syncId: string
  status: string
  attempt: number
  mode: string
  dryRun: boolean
  startedAt: string
  finishedAt?: string
  durationMs?: number
  error?: string
  errorCode?: string
  notes?: string[]
}

/** `running`, `retrying` (waiting to retry a transient failure), `streaming`, `failing` (the last attempt failed), or `idle`. */
export type SyncActivity = 'running' | 'retrying' | 'streaming' | 'failing' | 'idle'

/** One sync in `GET /api/syncs`. */
export interface SyncView {
  id: string
  mode: string
  direction: string
  schedule: string | null
  timezone: string | null
  running: boolean
  /** What it does now; `failing` with `problem` says why (e.g. its datasource is down). */
  status: SyncActivity
  /** The attempt in flight: its run id, attempt number, and when a retry is due. */
  run: { runId: string; firstRunId: string; attempt: number; trigger: string; startedAt: string; retryAt?: string } | null
  problem: { code: string; message: string; at: string; failure: string } | null
  /** A run of this sync in another process (a `syncline run`, another daemon): who holds its run lock. */
  runningElsewhere: { pid: number; host: string; runId: string; since: string } | null
  lastRun: RunView | null
  nextRunAt: string | null
  watermark: unknown
  /** Realtime syncs: seconds behind the source (null when unknown or not realtime). */
  lag: number | null
  /** Realtime syncs: where the stream is, from the state store and the source (see `syncline status`). */
  stream: unknown
}

/** A run record as the API shows it. */
export function runView(run: RunRecord): RunView {
  const view: RunView = {
    runId: run.runId,
    syncId: run.syncId,
    status: run.status,
    attempt: run.attempt ?? 1,
    mode: run.mode,
    dryRun: run.dryRun,
    startedAt: run.startedAt,
    read: run.read,
    created: run.created,
    updated: run.updated,
    deleted: run.deleted,
    unchanged: run.unchanged,
    failed: run.failed,
    conflicts: run.conflicts,
  }
  if (run.finishedAt !== undefined) view.finishedAt = run.finishedAt
  if (run.durationMs !== undefined) view.durationMs = run.durationMs
  if (run.error !== undefined) view.error = run.error
  if (run.errorCode !== undefined) view.errorCode = run.errorCode
  if (run.notes !== undefined) view.notes = run.notes
  return view
}

/** A sync's view from its slot and its state (`status` may be absent: it never ran). */
export function syncView(daemon: Daemon, slot: SyncSlot, status: SyncStatus | undefined): SyncView {
  const { plan } = slot
  const active = slot.active
  const activity: SyncActivity = active
    ? active.retryAt !== undefined
      ? 'retrying'
      : plan.mode === 'realtime'
        ? 'streaming'
        : 'running'
    : slot.problem
      ? 'failing'
      : 'idle'
  const run = active
    ? { runId: active.runId, firstRunId: active.firstRunId, attempt: active.attempt, trigger: active.trigger, startedAt: active.startedAt, ...(active.retryAt ? { retryAt: active.retryAt } : {}) }
    : null
  return {
    id: plan.id,
    mode: plan.mode,
    direction: plan.direction,
    schedule: plan.schedule ?? null,
    timezone: plan.timezone ?? daemon.manager.plan.timezone ?? null,
    running: active !== undefined,
    status: activity,
    run,
    problem: slot.problem ?? null,
    runningElsewhere: status?.lock && !active ? { pid: status.lock.pid, host: status.lock.host, runId: status.lock.runId, since: status.lock.acquiredAt } : null,
    lastRun: status?.lastRun ? runView(status.lastRun) : null,
    nextRunAt: daemon.nextRunAt(plan.id) ?? null,
    watermark: status?.watermark ? toJson(status.watermark) : null,
    lag: status?.stream?.lagSeconds ?? null,
    stream: status?.stream ? toJson(status.stream) : null,
  }
}

/** A rejected record as `GET /api/syncs/:id/errors` shows it. */
export function recordErrorView(entry: RecordErrorEntry): Record<string, unknown> {
  return { runId: entry.runId, recordId: entry.recordId, operation: entry.operation, reason: entry.reason, record: toJson(entry.record), at: entry.at }
}

/** Canonical values as JSON-safe values (bigints as strings, bytes as base64). */
export function toJson(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, jsonReplacer)) as unknown
}
