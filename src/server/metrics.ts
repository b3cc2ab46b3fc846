/**
 * The daemon's Prometheus metrics (prom-client), on a registry of its own
 * so a library user's default registry is left alone. Counters grow while a
 * run goes on (from its progress reports), not only when it ends, so a
 * realtime sync that never ends still shows what it moves.
 *
 * Later parts add their own metrics to {@link DaemonMetrics.registry} (the
 * WebSocket feed its client count).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { Progress } from '../engine/progress.js'
import type { SyncResult } from '../engine/run-sync.js'
import type { RunCounts } from '../state/state-store.js'

/** Seconds; runs last from milliseconds (an idle incremental) to hours (a first full copy). */
const DURATION_BUCKETS = [0.05, 0.25, 1, 5, 15, 60, 300, 900, 3600, 14_400]

let defaultsCollected = false

/** Every metric the daemon keeps; see docs/daemon.md for their meaning. */
export class DaemonMetrics {
  readonly registry = new Registry()
  readonly rowsRead = new Counter({ name: 'syncline_rows_read_total', help: 'Source rows (or changes) read, per sync.', labelNames: ['sync'], registers: [this.registry] })
  readonly rowsWritten = new Counter({
    name: 'syncline_rows_written_total',
    help: 'Destination rows written, per sync and operation (created, updated, deleted).',
    labelNames: ['sync', 'operation'],
    registers: [this.registry],
  })
  readonly recordsRejected = new Counter({ name: 'syncline_records_rejected_total', help: 'Records the destination rejected, per sync.', labelNames: ['sync'], registers: [this.registry] })
  readonly runs = new Counter({ name: 'syncline_runs_total', help: 'Runs (attempts) that ended, per sync and status.', labelNames: ['sync', 'status'], registers: [this.registry] })
  readonly failures = new Counter({ name: 'syncline_run_failures_total', help: 'Runs (attempts) that failed, per sync and error code.', labelNames: ['sync', 'code'], registers: [this.registry] })
  readonly retries = new Counter({ name: 'syncline_run_retries_total', help: 'Retries of transient failures started, per sync.', labelNames: ['sync'], registers: [this.registry] })
  readonly skippedTicks = new Counter({
    name: 'syncline_schedule_skipped_total',
    help: 'Scheduled ticks skipped because the previous run of the sync still went on.',
    labelNames: ['sync'],
    registers: [this.registry],
  })
  readonly duration = new Histogram({
    name: 'syncline_run_duration_seconds',
    help: 'Run (attempt) durations, per sync and status.',
    labelNames: ['sync', 'status'],
    buckets: DURATION_BUCKETS,
    registers: [this.registry],
  })
  readonly running = new Gauge({ name: 'syncline_sync_running', help: '1 while a run of the sync goes on in this daemon.', labelNames: ['sync'], registers: [this.registry] })
  readonly lag = new Gauge({
    name: 'syncline_realtime_lag_seconds',
    help: 'Realtime syncs: seconds between the source commit of the last change applied and now (0 when caught up).',
    labelNames: ['sync'],
    registers: [this.registry],
  })
  readonly slotRetained = new Gauge({
    name: 'syncline_replication_slot_retained_bytes',
    help: 'Realtime syncs: bytes of log the source keeps for the sync (PostgreSQL slots: retained WAL).',
    labelNames: ['sync'],
    registers: [this.registry],
  })
  readonly feedClients = new Gauge({
    name: 'syncline_feed_clients',
    help: 'WebSocket /feed clients connected, per connection and entity.',
    labelNames: ['connection', 'entity'],
    registers: [this.registry],
  })

  readonly feedCaptureLag = new Gauge({
    name: 'syncline_feed_capture_lag_seconds',
    help: 'WebSocket feed: seconds between the source commit of the last change the shared capture recorded and its recording, per connection and entity.',
    labelNames: ['connection', 'entity'],
    registers: [this.registry],
  })
  readonly feedReplayEvents = new Gauge({
    name: 'syncline_feed_replay_events',
    help: 'WebSocket feed: change events the replay log keeps for clients resuming with since, per connection and entity (as of its last prune).',
    labelNames: ['connection', 'entity'],
    registers: [this.registry],
  })

  /** Counts of the attempt in flight already added to the counters, by sync (one attempt of a sync at a time). */
  private readonly seen = new Map<string, RunCounts>()

  constructor() {
    // Process metrics (CPU, memory, event loop lag) once per process: prom-client refuses a second time.
    if (!defaultsCollected) {
      collectDefaultMetrics({ register: this.registry, prefix: 'syncline_' })
      defaultsCollected = true
    }
  }

  /** Add what a run moved since its previous report. */
  progress(progress: Progress): void {
    this.addCounts(progress.syncId, progress.counts)
    if (progress.lagSeconds !== undefined) this.lag.set({ sync: progress.syncId }, progress.lagSeconds)
  }

  /** A run (attempt) ended: the rest of its counts, its status, duration and failure. */
  finished(result: SyncResult): void {
    this.addCounts(result.id, result)
    this.seen.delete(result.id)
    this.runs.inc({ sync: result.id, status: result.status })
    this.duration.observe({ sync: result.id, status: result.status }, result.durationMs / 1000)
    if (result.status === 'failed') this.failures.inc({ sync: result.id, code: result.errorCode ?? 'INTERNAL' })
  }

  /** The Prometheus text exposition. */
  async text(): Promise<string> {
    return this.registry.metrics()
  }

  private addCounts(sync: string, counts: RunCounts): void {
    const before = this.seen.get(sync) ?? { read: 0, created: 0, updated: 0, deleted: 0, unchanged: 0, failed: 0, conflicts: 0 }
    const delta = (k: keyof RunCounts) => Math.max(0, counts[k] - before[k])
    if (delta('read') > 0) this.rowsRead.inc({ sync }, delta('read'))
    for (const operation of ['created', 'updated', 'deleted'] as const) if (delta(operation) > 0) this.rowsWritten.inc({ sync, operation }, delta(operation))
    if (delta('failed') > 0) this.recordsRejected.inc({ sync }, delta('failed'))
    this.seen.set(sync, { ...counts })
  }
}
