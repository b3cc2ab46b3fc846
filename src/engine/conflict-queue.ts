/**
 * Settling a queued conflict (`conflict: manual`) by hand:
 * `syncline conflicts resolve ID --take source|destination`, or
 * `manager.resolveConflict(id, 'source')`. The taken side's row as it is
 * now (not as it was when the conflict was found) is written to the other
 * side, or its delete made there, and becomes the base.
 */
import { randomUUID } from 'node:crypto'
import { SynclineError } from '../errors.js'
import { acquireRunLock } from '../state/run-lock.js'
import type { RunRecord } from '../state/state-store.js'
import type { StoredConflict } from '../state/two-way-state.js'
import { sortKey } from '../values/sort-key.js'
import { prepareSync } from './prepare-sync.js'
import { emptyCounts } from './progress.js'
import { rowHash } from './row-hash.js'
import type { RunTarget } from './run-sync.js'
import { twoWayMapping } from './two-way-mapping.js'

/** Which side's version a person keeps. */
export type ConflictSide = 'source' | 'destination'

/**
 * Write the taken side over the other for one open conflict, record the new
 * base and mark the conflict resolved; recorded in history as a run of mode
 * `resolve`. Holds the sync's run lock (`LOCKED` while a run goes on).
 * Throws `CONFLICT_NOT_FOUND` for an unknown or already settled id.
 */
export async function resolveConflict(target: RunTarget, conflict: StoredConflict, take: ConflictSide): Promise<StoredConflict> {
  const { plan, state } = target
  if (conflict.resolvedAt !== undefined) {
    throw new SynclineError('CONFLICT_NOT_FOUND', 'config', `Conflict ${conflict.id} of sync '${conflict.syncId}' was already resolved (${conflict.resolution ?? 'settled'}) at ${conflict.resolvedAt}; 'syncline conflicts' lists the open ones.`)
  }
  const record: RunRecord = {
    runId: randomUUID(),
    syncId: plan.id,
    mode: 'resolve',
    status: 'running',
    dryRun: false,
    startedAt: new Date().toISOString(),
    ...emptyCounts(),
  }
  const lock = await acquireRunLock(state, record)
  try {
    await state.startRun(record)
    const p = await prepareSync(plan, target.index, target.source, target.destination)
    const mapping = twoWayMapping(p, target.index)
    const [source] = await p.source.lookup(p.sourceEntity.name, p.keys, [conflict.key], mapping.forward.sourceFields)
    const [destination] = await p.destination.lookup(p.destinationEntity.name, p.destinationKeys, [conflict.key], mapping.destinationFields)
    let agreed
    if (take === 'source') {
      agreed = source ? mapping.forward.map(source) : undefined
      if (agreed) await p.destination.apply(p.destinationEntity.name, { upserts: [agreed], deletes: [] }, { keys: p.destinationKeys })
      else if (destination) await p.destination.apply(p.destinationEntity.name, { upserts: [], deletes: [conflict.key] }, { keys: p.destinationKeys })
    } else {
      agreed = destination
      if (destination) await p.source.apply(p.sourceEntity.name, { upserts: [mapping.backward.map(destination)], deletes: [] }, { keys: p.keys })
      else if (source) await p.source.apply(p.sourceEntity.name, { upserts: [], deletes: [conflict.key] }, { keys: p.keys })
    }
    if (agreed) record.updated = 1
    else record.deleted = source || destination ? 1 : 0
    const keyBytes = sortKey(p.keyTypes, conflict.key)!
    const twoWay = state.twoWay()
    if (agreed) await twoWay.writeBase(plan.id, [{ key: keyBytes, hash: rowHash(agreed, mapping.compared) }], [])
    else await twoWay.writeBase(plan.id, [], [keyBytes])
    const at = new Date().toISOString()
    await twoWay.resolveConflicts(plan.id, [conflict.recordId], take, at)
    Object.assign(record, { status: 'succeeded', finishedAt: at, durationMs: Date.now() - new Date(record.startedAt).getTime(), notes: [`conflict ${conflict.id} on record ${conflict.recordId}: took the ${take}`] })
    await state.finishRun(record)
    return { ...conflict, resolvedAt: at, resolution: take }
  } catch (error) {
    Object.assign(record, { status: 'failed', finishedAt: new Date().toISOString(), error: error instanceof Error ? error.message : String(error) })
    await state.finishRun(record).catch(() => undefined)
    throw error
  } finally {
    await lock.release().catch(() => undefined)
  }
}
