/**
 * `syncline serve` keeps the state store bounded: it prunes run history by
 * the plan's `history:` retention once at start (then hourly), and logs what
 * it removed.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { BUILD_TIMEOUT_MS, ensureBuilt } from '../cli/build.js'
import { workspace, type Workspace } from '../cli/workspace.js'
import { openSqliteStateStore } from '../../src/state/sqlite-state-store.js'
import { startDaemon, waitFor, type DaemonProcess } from './daemon-process.js'

beforeAll(ensureBuilt, BUILD_TIMEOUT_MS)

let ws: Workspace | undefined
let daemon: DaemonProcess | undefined
afterEach(async () => {
  await daemon?.stop('SIGKILL')
  daemon = undefined
  ws?.remove()
  ws = undefined
})

describe('syncline serve: history retention', () => {
  it('prunes at start: old runs beyond keepRuns go with their record errors, and the prune is logged', async () => {
    ws = workspace('syncline-serve-prune-')
    ws.sqlite('shop.db', 'CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)')
    ws.write('syncline.yaml', `history: { keepDays: 7, keepRuns: 1 }
connections:
  shop: { url: sqlite:./shop.db }
  copy: { url: sqlite:./copy.db }
syncs:
  - id: items
    source: { connection: shop, entity: items }
    destination: { connection: copy, entity: items, create: true }
`)
    const store = openSqliteStateStore(ws.path('.syncline/state.db'))
    try {
      for (const [runId, days] of [['old', 20], ['older', 21], ['recent', 2]] as const) {
        const startedAt = new Date(Date.now() - days * 86_400_000).toISOString()
        await store.finishRun({ runId, syncId: 'items', mode: 'full', status: 'partial', dryRun: false, startedAt, finishedAt: startedAt, durationMs: 1, read: 1, created: 0, updated: 0, deleted: 0, unchanged: 0, failed: 1, conflicts: 0 })
      }
      await store.addRecordErrors([{ runId: 'old', syncId: 'items', operation: 'create', recordId: '1', record: { id: 1 }, reason: 'too long', at: new Date().toISOString() }])
    } finally {
      await store.close()
    }

    daemon = await startDaemon(ws.dir)
    const pruned = await waitFor(() => daemon!.logs().find((l) => l.msg === 'pruned run history'), 20_000, "the 'pruned run history' log line")
    expect(pruned).toMatchObject({ runs: 2, recordErrors: 1, keepRuns: 1 })
    expect(ws.sqliteRows<{ run_id: string }>('.syncline/state.db', 'SELECT run_id FROM runs').map((r) => r.run_id)).toEqual(['recent'])
    expect(ws.sqliteRows('.syncline/state.db', 'SELECT * FROM record_errors')).toEqual([])
    const ended = await daemon.stop('SIGTERM')
    daemon = undefined
    expect(ended.code).toBe(0)
  })
})
