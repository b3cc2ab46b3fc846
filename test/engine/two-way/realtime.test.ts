/**
 * Realtime two-way sync, PostgreSQL <-> SQLite: the first comparison, then
 * edits on either side streamed to the other; the engine's own writes come
 * back through the feeds and are not sent back (an idle stream writes
 * nothing, also after a restart); both positions are saved; a conflict made
 * before either event was applied is settled once; a side without change
 * capture is polled by its cursor; a lost connection is reconnected.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Connector } from '../../../src/connectors/connector.js'
import { consumerName } from '../../../src/engine/consumer-name.js'
import type { SyncManager } from '../../../src/sync-manager.js'
import type { TestDatasource } from '../datasources.js'
import { openManager } from '../sync-harness.js'
import { converged, startStreaming } from './realtime-harness.js'
import { at, deleteItem, itemsSync, openPair, putItem, updateItem } from './two-way-harness.js'

// Slot names are shared by the whole PostgreSQL server: an id no other test file uses.
const ID = 'two-way-live'
const row = (id: number, name: string, qty: number) => ({ id, name, qty, price: '1.00' })
const written = (r: { created: number; updated: number; deleted: number }) => r.created + r.updated + r.deleted
const idle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('realtime two-way sync postgres <-> sqlite', () => {
  let src: TestDatasource
  let dst: TestDatasource
  let manager: SyncManager
  let cleanup: () => Promise<void>
  const open = async (extra: Parameters<typeof itemsSync>[0] = {}) => {
    ;({ manager, cleanup } = await openManager(src, dst, [itemsSync({ id: ID, mode: 'realtime', ...extra })]))
  }
  beforeEach(async () => {
    ;({ src, dst } = await openPair('postgres', 'sqlite'))
    for (let id = 1; id <= 3; id++) await putItem(src, { id, name: `item ${id}`, qty: id, price: '1.00', updated_at: at(id) })
  })
  afterEach(async () => {
    // Drops both consumers: the PostgreSQL slot and the SQLite change log's position.
    try {
      await manager?.forget(ID)
    } finally {
      await cleanup?.()
      await src?.cleanup()
      await dst?.cleanup()
    }
  })

  it('streams edits both ways, writes each once, and writes nothing while idle or after a restart', async () => {
    await open()
    const first = startStreaming(manager, ID)
    await first.streaming
    await converged(src, dst, [row(1, 'item 1', 1), row(2, 'item 2', 2), row(3, 'item 3', 3)])

    await updateItem(src, 1, { name: 'from source', updated_at: at(10) })
    await updateItem(dst, 2, { qty: 20, updated_at: at(11) })
    await putItem(dst, { id: 4, name: 'new at destination', qty: 4, price: '1.00', updated_at: at(12) })
    await deleteItem(src, 3)
    const want = [row(1, 'from source', 1), row(2, 'item 2', 20), row(4, 'new at destination', 4)]
    await converged(src, dst, want)
    // Every write comes back through the other side's feed: none may be sent back.
    await idle(1500)
    const result = await first.stop()
    expect(result).toMatchObject({ status: 'succeeded', mode: 'realtime', conflicts: 0, failed: 0 })
    expect(written(result)).toBe(3 + 4)

    const statuses = await manager.status()
    expect(statuses.find((s) => s.syncId === ID)?.stream?.position).toBeTruthy()
    expect(statuses.find((s) => s.syncId === `${ID}:destination`)?.stream?.position).toBeTruthy()

    // A restart resumes both feeds where they were acknowledged: nothing to write.
    const again = startStreaming(manager, ID)
    await again.streaming
    await idle(1500)
    const resumed = await again.stop()
    expect(resumed).toMatchObject({ status: 'succeeded', created: 0, updated: 0, deleted: 0, conflicts: 0 })
    expect(await converged(src, dst, want)).toBeUndefined()
  })

  it('a key both sides changed before either event was applied is one conflict, merged field by field', async () => {
    await open({ conflict: 'merge' })
    const first = startStreaming(manager, ID)
    await first.streaming
    await converged(src, dst, [row(1, 'item 1', 1), row(2, 'item 2', 2), row(3, 'item 3', 3)])
    expect(written(await first.stop())).toBe(3)

    await updateItem(src, 1, { name: 'name from source', updated_at: at(10) })
    await updateItem(dst, 1, { qty: 77, updated_at: at(11) })
    const second = startStreaming(manager, ID)
    await second.streaming
    await converged(src, dst, [row(1, 'name from source', 77), row(2, 'item 2', 2), row(3, 'item 3', 3)])
    await idle(1000)
    const result = await second.stop()
    // The merged row is written to both sides; the second feed's event then finds them equal.
    expect(result).toMatchObject({ status: 'succeeded', conflicts: 1, updated: 2, failed: 0 })
  })

  it('a side without change capture is polled by its cursor', async () => {
    await open()
    const sqlite: Connector = await manager.connector('dst')
    // As a connector without change capture has it: no feed to open.
    Object.assign(sqlite, { capabilities: { ...sqlite.capabilities, cdc: false } })
    const first = startStreaming(manager, ID)
    await first.streaming
    await converged(src, dst, [row(1, 'item 1', 1), row(2, 'item 2', 2), row(3, 'item 3', 3)])

    await updateItem(dst, 1, { name: 'polled', updated_at: at(10) })
    await putItem(dst, { id: 4, name: 'polled insert', qty: 4, price: '1.00', updated_at: at(11) })
    await deleteItem(src, 2)
    await updateItem(src, 3, { qty: 30, updated_at: at(12) })
    await converged(src, dst, [row(1, 'polled', 1), row(3, 'item 3', 30), row(4, 'polled insert', 4)])
    await idle(1500)
    const result = await first.stop()
    expect(result).toMatchObject({ status: 'succeeded', conflicts: 0, failed: 0 })
    expect(written(result)).toBe(3 + 4)
    expect(result.notes?.join(' ')).toMatch(/destination dst \(sqlite\) has no change capture: its changes are read by its cursor every 1 s/)
  })

  it('reconnects after the replication connection is lost and resumes from its saved positions', async () => {
    await open({ retries: 2 })
    const running = startStreaming(manager, ID)
    await running.streaming
    await converged(src, dst, [row(1, 'item 1', 1), row(2, 'item 2', 2), row(3, 'item 3', 3)])
    // End the PostgreSQL feed's server process once its slot is read.
    for (const until = Date.now() + 10_000; ; ) {
      const ended = await src.query<{ ok: boolean }>(`SELECT pg_terminate_backend(active_pid) AS ok FROM pg_replication_slots WHERE slot_name LIKE '%' || ? AND active_pid IS NOT NULL`, [consumerName(ID)])
      if (ended[0]?.ok === true) break
      if (Date.now() > until) throw new Error('the feed never read its slot')
      await idle(25)
    }
    // The SQLite feed stays idle meanwhile: reconnecting must not wait for it.
    await updateItem(src, 1, { name: 'after the cut', updated_at: at(10) })
    await converged(src, dst, [row(1, 'after the cut', 1), row(2, 'item 2', 2), row(3, 'item 3', 3)])
    await updateItem(dst, 2, { name: 'also after the cut', updated_at: at(11) })
    await converged(src, dst, [row(1, 'after the cut', 1), row(2, 'also after the cut', 2), row(3, 'item 3', 3)])
    const result = await running.stop()
    expect(result).toMatchObject({ status: 'succeeded', conflicts: 0, failed: 0 })
    expect(written(result)).toBe(3 + 2)
    expect(result.notes?.join(' ')).toMatch(/reconnected 1 time\(s\) after transient errors .*resumed from its saved positions/)
  })

  it('a destination position lost while stopped: both sides are compared in full, then it streams again', async () => {
    await open()
    const first = startStreaming(manager, ID)
    await first.streaming
    await converged(src, dst, [row(1, 'item 1', 1), row(2, 'item 2', 2), row(3, 'item 3', 3)])
    await first.stop()

    const sqlite = await manager.connector('dst')
    await sqlite.dropChangeFeed!(consumerName(`${ID}:destination`))
    // Made while its consumer is gone: in no change log, found by the comparison.
    await updateItem(dst, 2, { name: 'while lost', updated_at: at(10) })
    const second = startStreaming(manager, ID)
    await second.streaming
    await converged(src, dst, [row(1, 'item 1', 1), row(2, 'while lost', 2), row(3, 'item 3', 3)], second)
    await updateItem(dst, 3, { name: 'streamed again', updated_at: at(11) })
    await converged(src, dst, [row(1, 'item 1', 1), row(2, 'while lost', 2), row(3, 'streamed again', 3)], second)
    const result = await second.stop()
    expect(result).toMatchObject({ status: 'succeeded', updated: 2, conflicts: 0 })
    expect(result.notes?.join(' ')).toMatch(/saved destination stream position could no longer be served/)
  })
})
