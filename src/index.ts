/**
 * syncline as a library. Start with {@link SyncManager}.
 * @example
 * import { SyncManager } from 'syncline'
 * const manager = await SyncManager.open({ config: 'syncline.yaml' })
 * console.log(await manager.run('customers'))
 * await manager.close()
 */
export { SyncManager, type OpenOptions, type SyncStatus, type ValidationResult } from './sync-manager.js'
export type { RunOptions, SyncResult } from './engine/run-sync.js'
export type { VerifyOptions, VerifyResult } from './engine/verify-sync.js'
export type { Progress, ProgressListener } from './engine/progress.js'
export type { Operation } from './engine/batch-writer.js'
export type { ChangeEvent } from './engine/change-event.js'
export type { WatchCallback, WatchHandle, WatchOptions } from './engine/watch.js'
export type { ChangeFeedReport } from './engine/watch-retention.js'
export type { ConflictDecision, ConflictEvent, ConflictResolver } from './engine/conflict-resolution.js'
export type { ConflictSide } from './engine/conflict-queue.js'
export type { ConflictKind, StoredConflict } from './state/two-way-state.js'
export * from './errors.js'
export type { Plan, PlanInput, SyncPlan, SyncPlanInput } from './plan/schema.js'
export type { Capabilities, CheckReport, Connector, ConnectionConfig, Filter, PhysicalIdentity } from './connectors/connector.js'
export { createConnector } from './connectors/registry.js'
export type { CanonicalType, EntityInfo, FieldInfo, Row, Value } from './values/canonical.js'
export type { RunLock, RunRecord, RecordErrorEntry, SyncState, Watermark } from './state/state-store.js'
