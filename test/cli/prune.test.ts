/**
 * `syncline prune [--dry-run] [--json]`: drops run history beyond the plan's
 * `history:` retention, and with --dry-run only says what it would drop.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { openSqliteStateStore } from '../../src/state/sqlite-state-store.js'
import type { RunRecord } from '../../src/state/state-store.js'
import { BUILD_TIMEOUT_MS, ensureBuilt } from './build.js'
import { jsonLines } from './cli.js'
import { workspace, type Workspace } from './workspace.js'

beforeAll(ensureBuilt, BUILD_TIMEOUT_MS)

let ws: Workspace
afterEach(() => ws?.remove())

const PLAN = (history: string) => `${history}
connections:
  shop: { url: sqlite:./shop.db }
syncs: []
`

/** State as a daemon leaves it after months: runs of `orders` started 60, 50, 40 and 1 day(s) ago, the oldest with rejected records. */
async function seedHistory(ws: Workspace): Promise<void> {
  const store = openSqliteStateStore(ws.path('.syncline/state.db'))
  try {
    for (const [runId, days] of [['r60', 60], ['r50', 50], ['r40', 40], ['r1', 1]] as const) {
      const startedAt = new Date(Date.now() - days * 86_400_000).toISOString()
      const run: RunRecord = { runId, syncId: 'orders', mode: 'full', status: 'partial', dryRun: false, startedAt, read: 2, created: 1, updated: 0, deleted: 0, unchanged: 0, failed: 1, conflicts: 0 }
      await store.finishRun({ ...run, finishedAt: startedAt, durationMs: 5 })
    }
    await store.addRecordErrors(
      ['1', '2'].map((recordId) => ({ runId: 'r60', syncId: 'orders', operation: 'create' as const, recordId, record: { id: recordId }, reason: 'too long', at: new Date().toISOString() })),
    )
  } finally {
    await store.close()
  }
}

function remainingRuns(ws: Workspace): string[] {
  return ws.sqliteRows<{ run_id: string }>('.syncline/state.db', 'SELECT run_id FROM runs ORDER BY started_at DESC').map((r) => r.run_id)
}

describe('syncline prune', () => {
  it('--dry-run prints what would go and writes nothing; then prune removes exactly that', async () => {
    ws = workspace()
    ws.write('syncline.yaml', PLAN('history: { keepDays: 30, keepRuns: 2 }'))
    await seedHistory(ws)

    const dry = await ws.run(['prune', '--dry-run', '--json'])
    expect(dry.code).toBe(0)
    // Beyond the newest 2: r50 and r60, both older than 30 days; r60's two errors go with it.
    expect(jsonLines(dry.stdout)).toEqual([expect.objectContaining({ dryRun: true, keepDays: 30, keepRuns: 2, runs: 2, recordErrors: 2 })])
    expect(remainingRuns(ws)).toEqual(['r1', 'r40', 'r50', 'r60'])
    expect(ws.sqliteRows('.syncline/state.db', 'SELECT * FROM record_errors')).toHaveLength(2)

    const real = await ws.run(['prune'])
    expect(real.code).toBe(0)
    expect(real.stdout).toMatch(/^removed 2 runs and 2 record errors \(runs started before \S+ and beyond the newest 2 of their sync\)\.$/m)
    expect(remainingRuns(ws)).toEqual(['r1', 'r40'])
    expect(ws.sqliteRows('.syncline/state.db', 'SELECT * FROM record_errors')).toHaveLength(0)

    const again = await ws.run(['prune', '--dry-run'])
    expect(again.stdout).toMatch(/^Dry run: would remove 0 runs and 0 record errors/m)
  })

  it('keeps 1,000 runs per sync by default, so months-old history of a quiet sync stays', async () => {
    ws = workspace()
    ws.write('syncline.yaml', PLAN(''))
    await seedHistory(ws)
    const result = await ws.run(['prune', '--json'])
    expect(result.code).toBe(0)
    expect(jsonLines(result.stdout)).toEqual([expect.objectContaining({ dryRun: false, keepDays: 30, keepRuns: 1000, runs: 0, recordErrors: 0 })])
    expect(remainingRuns(ws)).toHaveLength(4)
  })

  it('refuses a retention that would drop every run, naming the setting (exit 2)', async () => {
    ws = workspace()
    ws.write('syncline.yaml', PLAN('history: { keepDays: 30, keepRuns: 0 }'))
    const result = await ws.run(['prune'])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('history.keepRuns: must be at least 1')
  })
})
