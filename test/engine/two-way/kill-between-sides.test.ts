/**
 * Crash safety: a two-way run killed (SIGKILL, a real child process) after
 * writing the destination and before writing the source converges on rerun,
 * keeps both sides' edits and reports no conflict that was not there, also
 * when the interrupted write was a merged row meant for both sides.
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { PlanInput, SyncPlanInput } from '../../../src/plan/schema.js'
import { SyncManager } from '../../../src/sync-manager.js'
import { hasPostgres, tempDir } from '../../helpers/services.js'
import type { TestDatasource } from '../datasources.js'
import { at, items, itemsSync, openPair, putItem, updateItem } from './two-way-harness.js'

const pgAvailable = await hasPostgres()
const CHILD = fileURLToPath(new URL('./kill-between-sides.child.ts', import.meta.url))

/** Run the child until it dies; resolves with its exit code and signal. */
function runKilled(plan: PlanInput, baseDir: string): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(plan), baseDir], { stdio: ['ignore', 'inherit', 'inherit'] })
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
    child.on('error', reject)
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal })
    })
  })
}

describe.skipIf(!pgAvailable)('two-way sync killed between the two sides', () => {
  let src: TestDatasource
  let dst: TestDatasource
  let dir: { path: string; remove: () => void }
  beforeEach(async () => {
    ;({ src, dst } = await openPair('postgres', 'sqlite'))
    dir = tempDir('syncline-kill-')
  })
  afterEach(async () => {
    await src?.cleanup()
    await dst?.cleanup()
    dir?.remove()
  })

  const planOf = (sync: SyncPlanInput): PlanInput => ({ state: join(dir.path, 'state.db'), connections: { src: { url: src.url }, dst: { url: dst.url } }, syncs: [sync] })

  async function agree(plan: PlanInput): Promise<void> {
    for (let id = 1; id <= 3; id++) await putItem(src, { id, name: `item ${id}`, qty: id, price: '1.00', updated_at: at(id) })
    const manager = await SyncManager.open({ config: plan, baseDir: dir.path })
    try {
      expect(await manager.run('items')).toMatchObject({ status: 'succeeded', created: 3 })
    } finally {
      await manager.close()
    }
  }

  async function rerun(plan: PlanInput) {
    const manager = await SyncManager.open({ config: plan, baseDir: dir.path })
    try {
      const result = await manager.run('items')
      const idle = await manager.run('items')
      const history = await manager.history('items', 10)
      return { result, idle, history }
    } finally {
      await manager.close()
    }
  }

  it('edits of different rows on each side: the rerun finishes the source side, with no conflict', async () => {
    const plan = planOf(itemsSync())
    await agree(plan)
    await updateItem(src, 1, { name: 'edited at source', updated_at: at(10) })
    await updateItem(dst, 2, { name: 'edited at destination', updated_at: at(11) })

    expect(await runKilled(plan, dir.path)).toEqual({ code: null, signal: 'SIGKILL' })
    // The destination got the source's edit; the source does not have the destination's yet.
    expect((await items(dst)).find((r) => r.id === 1)?.name).toBe('edited at source')
    expect((await items(src)).find((r) => r.id === 2)?.name).toBe('item 2')

    const { result, idle, history } = await rerun(plan)
    expect(result).toMatchObject({ status: 'succeeded', conflicts: 0, updated: 1 })
    expect(idle).toMatchObject({ created: 0, updated: 0, deleted: 0, conflicts: 0 })
    const both = await items(src)
    expect(both).toEqual(await items(dst))
    expect(both.find((r) => r.id === 1)?.name).toBe('edited at source')
    expect(both.find((r) => r.id === 2)?.name).toBe('edited at destination')
    // The killed run is in history as failed (interrupted), not as running.
    expect(history.some((r) => r.status === 'running')).toBe(false)
  })

  it('a merged row written to the destination only: the rerun writes it to the source without a false conflict', async () => {
    const plan = planOf(itemsSync({ conflict: 'merge' }))
    await agree(plan)
    await updateItem(src, 1, { name: 'name from source', updated_at: at(10) })
    await updateItem(dst, 1, { qty: 77, updated_at: at(11) })

    expect(await runKilled(plan, dir.path)).toEqual({ code: null, signal: 'SIGKILL' })
    expect((await items(dst)).find((r) => r.id === 1)).toMatchObject({ name: 'name from source', qty: 77 })
    expect((await items(src)).find((r) => r.id === 1)).toMatchObject({ name: 'name from source', qty: 1 })

    const { result, idle } = await rerun(plan)
    expect(result).toMatchObject({ status: 'succeeded', conflicts: 0, updated: 1 })
    expect(idle).toMatchObject({ created: 0, updated: 0, deleted: 0, conflicts: 0 })
    expect((await items(src)).find((r) => r.id === 1)).toMatchObject({ name: 'name from source', qty: 77 })
    expect(await items(src)).toEqual(await items(dst))
  })
})
