/**
 * Progress reports: what a run is doing, how far it is, and its counts so far.
 * The CLI draws them as a bar on a TTY, as lines otherwise, as JSON with --json.
 */
import type { RunCounts } from '../state/state-store.js'

/** One progress report. */
export interface Progress {
  syncId: string
  /**
   * `prepare`, `copy` (full sync, and a realtime sync's snapshot comparison), `changes` (incremental),
   * `nulls` (rows with a NULL cursor), `deletes` (key reconciliation), `stream` (realtime), `done`.
   */
  phase: 'prepare' | 'copy' | 'changes' | 'nulls' | 'deletes' | 'stream' | 'done'
  /** Source rows read so far in this phase. */
  current: number
  /** Rows expected in this phase, when the source could count them. */
  total?: number
  /** 0-100 when total is known. */
  percent?: number
  message: string
  counts: RunCounts
  /** `stream` only: seconds between the source commit of the last change applied and now (0 when caught up). */
  lagSeconds?: number
}

/** Receives progress reports; must not throw. */
export type ProgressListener = (progress: Progress) => void

/** Fresh zero counts. */
export function emptyCounts(): RunCounts {
  return { read: 0, created: 0, updated: 0, deleted: 0, unchanged: 0, failed: 0, conflicts: 0 }
}

/** Build a report with percent derived from current/total. */
export function progressReport(syncId: string, phase: Progress['phase'], current: number, total: number | undefined, counts: RunCounts, message: string): Progress {
  const report: Progress = { syncId, phase, current, message, counts: { ...counts } }
  if (total !== undefined) {
    report.total = total
    report.percent = total === 0 ? 100 : Math.min(100, Math.round((current / total) * 1000) / 10)
  }
  return report
}
