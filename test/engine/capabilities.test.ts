/**
 * The engine reads capability flags, not methods or kinds: a connector that
 * declares it cannot scan in key order is refused a key pass with a clear
 * error (nothing written); a destination without transactions has a failed
 * batch re-applied record by record; a source without change capture is
 * refused realtime mode. Each case wraps a real SQLite connector and changes
 * only its declared flags.
 */
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { ApplyBatch, ApplyOptions, Capabilities, Connector } from '../../src/connectors/connector.js'
import { createSqliteConnector } from '../../src/connectors/sqlite/connector.js'
import { RecordError } from '../../src/errors.js'
import { runSync } from '../../src/engine/run-sync.js'
import { parsePlan } from '../../src/plan/load.js'
import type { SyncPlanInput } from '../../src/plan/schema.js'
import { openStateStore } from '../../src/state/open-state-store.js'
import type { StateStore } from '../../src/state/state-store.js'
import { tempDir } from '../helpers/services.js'

/** The connector with some flags changed; every call still goes to the real one. */
function declaring(connector: Connector, flags: Partial<Capabilities>, onApply?: (batch: ApplyBatch) => Promise<void>): Connector {
  return new Proxy(connector, {
    get(target, prop, receiver) {
      if (prop === 'capabilities') return { ...target.capabilities, ...flags }
      if (prop === 'apply') return async (entity: string, batch: ApplyBatch, opts: ApplyOptions) => {
        await onApply?.(batch)
        return target.apply(entity, batch, opts)
      }
      const value: unknown = Reflect.get(target, prop, receiver)
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
    },
  })
}

describe('capability flags the engine reads', () => {
  const cleanups: (() => Promise<void> | void)[] = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  async function setup(sync: Partial<SyncPlanInput>) {
    const dir = tempDir('syncline-caps-')
    cleanups.push(() => dir.remove())
    const source = createSqliteConnector({ name: 'src', url: `sqlite:${join(dir.path, 'src.db')}` })
    const destination = createSqliteConnector({ name: 'dst', url: `sqlite:${join(dir.path, 'dst.db')}` })
    cleanups.push(() => source.close(), () => destination.close())
    await source.ensureEntity('items', [
      { name: 'id', type: 'integer', nativeType: '', nullable: false },
      { name: 'name', type: 'text', nativeType: '', nullable: true },
      { name: 'updated_at', type: 'timestamp', nativeType: '', nullable: true },
    ], ['id'])
    const rows = Array.from({ length: 8 }, (_, i) => ({ id: i + 1, name: `item ${i + 1}`, updated_at: '2026-01-01T10:00:00.000000Z' }))
    await source.apply('items', { upserts: rows, deletes: [] }, { keys: ['id'] })
    const { plan } = parsePlan({
      connections: { src: { url: 'sqlite:src.db' }, dst: { url: 'sqlite:dst.db' } },
      syncs: [{ id: 'items', source: { connection: 'src', entity: 'items' }, destination: { connection: 'dst', entity: 'items', create: true }, batchSize: 4, ...sync }],
    }, { baseDir: dir.path })
    const state: StateStore = await openStateStore(join(dir.path, 'state.db'), { baseDir: dir.path })
    cleanups.push(() => state.close())
    return { source, destination, plan: plan.syncs[0]!, state }
  }

  it('refuses a full sync from a source that cannot scan in key order, naming it and what to do, and writes nothing', async () => {
    const { source, destination, plan, state } = await setup({ mode: 'full' })
    const result = await runSync({ plan, index: 0, source: declaring(source, { orderedKeyScan: false }), destination, state })
    expect(result).toMatchObject({ status: 'failed', errorCode: 'CAPABILITY_MISSING', failure: 'config', created: 0 })
    expect(result.error).toContain("source connection 'src' (sqlite) cannot scan in key order")
    expect(result.error).toContain('mode: incremental')
    expect(await destination.discover('items')).toEqual([])
  })

  it('refuses an incremental sync with deletes: propagate into a destination that cannot scan in key order, before writing', async () => {
    const { source, destination, plan, state } = await setup({ mode: 'incremental', cursor: 'updated_at', deletes: 'propagate' })
    await destination.ensureEntity('items', (await source.describe('items')).fields, ['id'])
    const result = await runSync({ plan, index: 0, source, destination: declaring(destination, { orderedKeyScan: false }), state })
    expect(result).toMatchObject({ status: 'failed', errorCode: 'CAPABILITY_MISSING', created: 0 })
    expect(result.error).toContain("destination connection 'dst' (sqlite)")
    expect(await destination.count('items')).toBe(0)
    expect(await state.getWatermark('items')).toBeUndefined()
  })

  it('re-applies a failed batch record by record on a destination without transactions; halves it with them', async () => {
    const calls = async (transactions: boolean) => {
      const { source, destination, plan, state } = await setup({ mode: 'full', maxErrors: 5 })
      await destination.ensureEntity('items', (await source.describe('items')).fields, ['id'])
      const sizes: number[] = []
      // The destination rejects record 3; without transactions, what came before it in the batch has landed.
      const rejecting = declaring(destination, { transactions }, async (batch) => {
        sizes.push(batch.upserts.length)
        const bad = batch.upserts.findIndex((row) => row.id === 3)
        if (bad < 0) return
        if (!transactions) await destination.apply('items', { upserts: batch.upserts.slice(0, bad), deletes: [] }, { keys: ['id'] })
        throw new RecordError('VALUE_REJECTED', 'data', 'record 3 is rejected')
      })
      const result = await runSync({ plan, index: 0, source, destination: rejecting, state })
      expect(result).toMatchObject({ status: 'partial', failed: 1, created: 7 })
      expect(await destination.count('items')).toBe(7)
      return sizes
    }
    // Batches [1-4] (fails) and [5-8]: halving tries [1,2] [3,4] [3] [4]; one by one tries 1, 2, 3, 4.
    expect(await calls(true)).toEqual([4, 2, 2, 1, 1, 4])
    expect(await calls(false)).toEqual([4, 1, 1, 1, 1, 4])
  })

  it('refuses realtime mode on a source without change capture, naming the source', async () => {
    const { source, destination, plan, state } = await setup({ mode: 'realtime' })
    const result = await runSync({ plan, index: 0, source: declaring(source, { cdc: false }), destination, state })
    expect(result).toMatchObject({ status: 'failed', errorCode: 'CAPABILITY_MISSING' })
    expect(result.error).toContain("source connection 'src' (sqlite) has none (capabilities.cdc is false")
  })
})
