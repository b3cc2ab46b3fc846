/**
 * Crash safety of realtime two-way sync: a stream killed with SIGKILL (a
 * real child process) after writing a batch to the destination and before
 * writing the source, including a merged row meant for both sides, resumes
 * from its saved positions and converges: both sides' edits kept, no false
 * conflict, and afterwards nothing more to write.
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { PlanInput } from '../../../src/plan/schema.js'
import { SyncManager } from '../../../src/sync-manager.js'
import { tempDir } from '../../helpers/services.js'
import type { TestDatasource } from '../datasources.js'
import { converged, startStreaming } from './realtime-harness.js'
import { at, items, itemsSync, openPair, putItem, updateItem } from './two-way-harness.js'

const CHILD = fileURLToPath(new URL('./realtime-kill.child.ts', import.meta.url))
// Slot names are shared by the whole PostgreSQL server: an id no other test file uses.
const ID = 'two-way-kill'

/** Run the child until it dies; resolves with its exit code and signal. */
function runKilled(plan: PlanInput, baseDir: string): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(plan), baseDir, ID], { stdio: ['ignore', 'inherit', 'inherit'] })
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
    child.on('error', reject)
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal })
    })
  })
}

describe('realtime two-way sync killed between the two sides', () => {
  let src: TestDatasource
  let dst: TestDatasource
  let dir: { path: string; remove: () => void }
  let plan: PlanInput
  beforeEach(async () => {
    ;({ src, dst } = await openPair('postgres', 'sqlite'))
    dir = tempDir('syncline-kill-')
    plan = { state: join(dir.path, 'state.db'), connections: { src: { url: src.url }, dst: { url: dst.url } }, syncs: [itemsSync({ id: ID, mode: 'realtime', conflict: 'merge' })] }
  })
  afterEach(async () => {
    try {
      const manager = await SyncManager.open({ config: plan, baseDir: dir.path })
      await manager.forget(ID).finally(() => manager.close())
    } finally {
      await src?.cleanup()
      await dst?.cleanup()
      dir?.remove()
    }
  })

  /** A realtime run of its own manager until `check` passes, then stopped: its result and the run history. */
  async function streamUntil(check: () => Promise<void>) {
    const manager = await SyncManager.open({ config: plan, baseDir: dir.path })
    try {
      const running = startStreaming(manager, ID)
      await running.streaming
      await check()
      const result = await running.stop()
      return { result, history: await manager.history(ID, 10) }
    } finally {
      await manager.close()
    }
  }

  it('resumes, finishes the source side and the merged row, with no conflict counted again', async () => {
    for (let id = 1; id <= 3; id++) await putItem(src, { id, name: `item ${id}`, qty: id, price: '1.00', updated_at: at(id) })
    const seeded = [1, 2, 3].map((id) => ({ id, name: `item ${id}`, qty: id, price: '1.00' }))
    await streamUntil(() => converged(src, dst, seeded))

    // While nothing streams: key 1 changed on both sides (a merge, written to both), key 2 at the source, key 3 at the destination.
    await updateItem(src, 1, { name: 'name from source', updated_at: at(10) })
    await updateItem(dst, 1, { qty: 77, updated_at: at(11) })
    await updateItem(src, 2, { name: 'edited at source', updated_at: at(12) })
    await updateItem(dst, 3, { name: 'edited at destination', updated_at: at(13) })

    expect(await runKilled(plan, dir.path)).toEqual({ code: null, signal: 'SIGKILL' })
    // Killed after the destination got the merged row, before the source did.
    expect((await items(dst)).find((r) => r.id === 1)).toMatchObject({ name: 'name from source', qty: 77 })
    expect((await items(src)).find((r) => r.id === 1)).toMatchObject({ name: 'name from source', qty: 1 })

    const want = [
      { id: 1, name: 'name from source', qty: 77, price: '1.00' },
      { id: 2, name: 'edited at source', qty: 2, price: '1.00' },
      { id: 3, name: 'edited at destination', qty: 3, price: '1.00' },
    ]
    const { result, history } = await streamUntil(() => converged(src, dst, want))
    // The half-written merge is finished, not taken for a new conflict.
    expect(result).toMatchObject({ status: 'succeeded', conflicts: 0, failed: 0 })
    // The killed run is in history as failed (interrupted), not as running.
    expect(history.some((r) => r.status === 'running')).toBe(false)

    // Nothing left: a further stream writes nothing.
    const again = await streamUntil(() => new Promise((resolve) => setTimeout(resolve, 1500)))
    expect(again.result).toMatchObject({ status: 'succeeded', created: 0, updated: 0, deleted: 0, conflicts: 0 })
    expect(await items(src)).toEqual(want)
    expect(await items(dst)).toEqual(want)
  })
})
