/**
 * Builds a SyncManager over test datasources and reads tables back through
 * the connectors, so tests compare canonical values whatever the database.
 */
import { join } from 'node:path'
import { createConnector } from '../../src/connectors/registry.js'
import type { PlanInput, SyncPlanInput } from '../../src/plan/schema.js'
import { SyncManager } from '../../src/sync-manager.js'
import type { Row } from '../../src/values/canonical.js'
import { tempDir } from '../helpers/services.js'
import type { TestDatasource } from './datasources.js'

/** A manager over `src` and `dst` with the given syncs, its state in a temp directory. */
export async function openManager(src: TestDatasource, dst: TestDatasource, syncs: SyncPlanInput[]): Promise<{ manager: SyncManager; dir: string; cleanup: () => Promise<void> }> {
  const dir = tempDir('syncline-state-')
  const plan: PlanInput = {
    state: join(dir.path, 'state.db'),
    connections: { src: { url: src.url }, dst: { url: dst.url } },
    syncs,
  }
  const manager = await SyncManager.open({ config: plan, baseDir: dir.path })
  return {
    manager,
    dir: dir.path,
    cleanup: async () => {
      await manager.close()
      dir.remove()
    },
  }
}

/** Every row of an entity, in key order, as canonical values. */
export async function readAll(ds: TestDatasource, entity: string, keys: string[]): Promise<Row[]> {
  const connector = await createConnector({ name: 'reader', url: ds.url })
  try {
    const info = await connector.describe(entity)
    const rows: Row[] = []
    for await (const batch of connector.scan(entity, { fields: info.fields.map((f) => f.name), keys, batchSize: 1000 })) rows.push(...batch)
    return rows
  } finally {
    await connector.close()
  }
}
