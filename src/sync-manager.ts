/**
 * The library entry point (DESIGN §1.4): load a plan, manage its syncs,
 * check datasources, and run syncs with progress and cancellation.
 *
 * @example
 * const manager = await SyncManager.open({ config: 'syncline.yaml' })
 * const result = await manager.run('customers', { onProgress: (p) => console.log(p.percent) })
 * await manager.close()
 */
import { EventEmitter } from 'node:events'
import { resolve } from 'node:path'
import { keyOf, type CheckReport, type Connector, type DiscoverOptions } from './connectors/connector.js'
import { createConnector } from './connectors/registry.js'
import { consumerName } from './engine/consumer-name.js'
import { explainForeignKeys, type ExplainedNode } from './engine/foreign-key-plan.js'
import { destinationPositionId } from './engine/two-way-realtime.js'
import { runSyncs } from './engine/run-syncs.js'
import { resolveSchemaDrift } from './engine/schema-drift.js'
import { verifySync, type VerifyOptions, type VerifyResult } from './engine/verify-sync.js'
import { startWatch, type WatchCallback, type WatchHandle, type WatchOptions } from './engine/watch.js'
import { decodeWatchPosition } from './engine/watch-position.js'
import { reportChangeFeeds, watchRetentionMs, type ChangeFeedReport, type DroppedWatches } from './engine/watch-retention.js'
import type { ConflictResolver } from './engine/conflict-resolution.js'
import { resolveConflict, type ConflictSide } from './engine/conflict-queue.js'
import type { StoredConflict } from './state/two-way-state.js'
import type { RunOptions, RunTarget, SyncResult } from './engine/run-sync.js'
import { NotFoundError, PlanError, SynclineError, didYouMean, type PlanIssue } from './errors.js'
import { autoMap } from './mapping/auto-map.js'
import { validatePlanLive } from './plan/live-validate.js'
import { loadPlanFile, parsePlan, type LoadedPlan } from './plan/load.js'
import { savePlanFile } from './plan/save.js'
import type { Plan, PlanInput, SyncPlan, SyncPlanInput } from './plan/schema.js'
import { markInterruptedRuns } from './state/interrupted-runs.js'
import { isRunLockStale } from './state/run-lock.js'
import { openStateStore } from './state/open-state-store.js'
import type { FeedPosition, PruneHistoryResult, RecordErrorEntry, RunLock, RunRecord, StateStore, SyncState } from './state/state-store.js'
import type { EntityInfo, KeyValues } from './values/canonical.js'
import { compareKeys } from './values/compare.js'

/** How to open a manager: a plan file path, or a plan object. */
export interface OpenOptions {
  /** Path of `syncline.yaml` (default `./syncline.yaml` or `$SYNCLINE_CONFIG`), or a plan object. */
  config?: string | PlanInput
  /** Environment for `${VAR}` expansion (default `process.env`). */
  env?: NodeJS.ProcessEnv
  /** Directory relative paths resolve against when `config` is an object (default cwd). */
  baseDir?: string
}

/** One sync's state as {@link SyncManager.status} reports it. */
export interface SyncStatus extends SyncState {
  /** Who runs it now: present while a run holds its lock. */
  lock?: RunLock
  /** A realtime sync's stream: present once it saved a position. */
  stream?: StreamStatus
}

/** Where a realtime sync's stream is, from the state store and (where reachable) its source. */
export interface StreamStatus {
  /** Its consumer at the source (slot, change-log reader). */
  consumer: string
  /** The position saved last (after the destination committed up to it). */
  position: string
  /** Source commit time of the last change applied, or when the stream last found nothing new. */
  committedAt?: string
  /** When the position was saved. */
  updatedAt: string
  /**
   * Seconds the destination is behind: 0 when the source reports nothing
   * pending for the consumer, otherwise now − `committedAt`.
   */
  lagSeconds?: number
  /** From the source, where it tells (`Connector.listChangeFeeds`). */
  lagBytes?: number
  retainedBytes?: number
  pendingChanges?: number
  /** Whether a feed reads the consumer right now. */
  active?: boolean
  /** Why the consumer can no longer resume; the next run repairs by comparing. */
  lost?: string
  /** Why the source could not be asked (then only the saved facts are shown). */
  sourceError?: string
}

/** Result of {@link SyncManager.validate}. */
export interface ValidationResult {
  ok: boolean
  errors: PlanIssue[]
}

/** Loads a plan and runs its syncs. Emits `progress` (Progress) and `run` (SyncResult). */
export class SyncManager extends EventEmitter {
  private loaded: LoadedPlan
  private readonly connectors = new Map<string, Promise<Connector>>()
  private statePromise: Promise<StateStore> | undefined
  private readonly env: NodeJS.ProcessEnv
  private readonly watches = new Set<WatchHandle>()

  private constructor(loaded: LoadedPlan, env: NodeJS.ProcessEnv) {
    super()
    this.loaded = loaded
    this.env = env
  }

  /**
   * Listen to `progress`, `run`, or decide two-way conflicts with `conflict`
   * (the newest `conflict` listener decides; docs/two-way.md).
   * @example manager.on('conflict', (c) => (c.kind === 'update/delete' ? 'source' : undefined))
   */
  override on(event: 'conflict', listener: ConflictResolver): this
  override on(event: string | symbol, listener: (...args: never[]) => unknown): this
  override on(event: string | symbol, listener: (...args: never[]) => unknown): this {
    return super.on(event, listener as (...args: unknown[]) => void)
  }

  /** Load and validate a plan; throws PlanError (with every issue and its path) when invalid. */
  static async open(options: OpenOptions = {}): Promise<SyncManager> {
    const env = options.env ?? process.env
    const config = options.config ?? env.SYNCLINE_CONFIG ?? 'syncline.yaml'
    const loaded = typeof config === 'string' ? await loadPlanFile(resolve(config), env) : parsePlan(config, { env, baseDir: options.baseDir ?? process.cwd() })
    return new SyncManager(loaded, env)
  }

  /** The validated plan (defaults filled in). */
  get plan(): Plan {
    return this.loaded.plan
  }

  /** The directory relative paths of the plan are resolved against (the plan file's). */
  get baseDir(): string {
    return this.loaded.baseDir
  }

  /** The plan file this manager saves to, if it was loaded from one. */
  get path(): string | undefined {
    return this.loaded.path
  }

  /** One sync by id; throws SYNC_NOT_FOUND naming the closest id. */
  getPlan(id: string): SyncPlan {
    const sync = this.plan.syncs.find((s) => s.id === id)
    if (!sync) {
      const ids = this.plan.syncs.map((s) => s.id)
      throw new SynclineError('SYNC_NOT_FOUND', 'config', `No sync '${id}' in the plan.${didYouMean(id, ids)} Known syncs: ${ids.join(', ') || '(none)'}.`)
    }
    return sync
  }

  /**
   * Validate this manager's plan, another whole plan, or one sync as
   * addPlan/updatePlan would take it (paths are where it would sit, e.g.
   * `syncs[2].destination.connection`). Never throws for an invalid plan.
   * @example manager.validate({ id: 'albums', source: { connection: 'shop', entity: 'Album' }, destination: { connection: 'warehouse', entity: 'albums' } })
   */
  validate(plan?: PlanInput | SyncPlanInput): ValidationResult {
    let candidate: unknown = plan ?? this.rawPlan()
    if (plan !== null && typeof plan === 'object' && 'source' in plan) {
      // Replace the sync of the same id, or append: the plan as it would be after addPlan/updatePlan.
      const syncs = this.rawSyncs()
      const at = syncs.findIndex((s) => s.id === plan.id)
      if (at >= 0) syncs[at] = plan
      else syncs.push(plan)
      candidate = { ...this.rawPlan(), syncs }
    }
    try {
      parsePlan(candidate, { env: this.env, baseDir: this.loaded.baseDir })
      return { ok: true, errors: [] }
    } catch (error) {
      if (error instanceof PlanError) return { ok: false, errors: error.issues }
      throw error
    }
  }

  /** Check datasources, entities, fields, keys and transforms against the live connections. */
  async validateLive(syncIds?: string[]): Promise<PlanIssue[]> {
    return validatePlanLive(this.plan, {
      describe: (connection, entity) => this.describeForValidation(connection, entity),
      countDuplicateKeys: (connection, entity, keys) => this.countDuplicateKeys(connection, entity, keys),
      physicalIdentity: async (connection, entity) => (await this.connector(connection)).physicalIdentity?.(entity),
      timestampSpellings: async (connection, entity, field) => (await this.connector(connection)).timestampSpellings?.(entity, field),
      changeCapture: async (connection) => {
        const connector = await this.connector(connection)
        return { cdc: connector.capabilities.cdc, kind: connector.kind }
      },
    }, syncIds ? { syncIds } : undefined)
  }

  /**
   * What a run of these syncs (default all) will do about foreign keys
   * between their destination tables, one sentence per line (`validate
   * --live`): the order, cycles and how the destination's checks are
   * switched off for them. Syncs whose destination cannot be described are left out.
   */
  async explainForeignKeys(syncIds?: string[]): Promise<string[]> {
    const nodes: ExplainedNode[] = []
    for (const sync of this.plan.syncs) {
      if (syncIds && !syncIds.includes(sync.id)) continue
      if (sync.mode === 'realtime') continue // streams never switch checks off
      const connector = await this.connector(sync.destination.connection).catch(() => undefined)
      const entity = connector ? await this.describeForValidation(sync.destination.connection, sync.destination.entity).catch(() => undefined) : undefined
      if (!connector || !entity) continue
      nodes.push({ id: sync.id, destination: { name: connector.name }, destinationEntity: entity, foreignKeys: sync.foreignKeys, ...(connector.foreignKeyChecksOff ? { checksOff: connector.foreignKeyChecksOff } : {}) })
    }
    return explainForeignKeys(nodes)
  }

  /**
   * Describe an entity for live validation. A datasource that answers "no
   * such entity" but cannot describe it (a SQLite file a `create: true`
   * sync makes on its first write) is reported as a missing entity, not as
   * an unreachable connection, so such a destination passes as it does at run time.
   */
  /**
   * What the schema drift policy of these syncs (default all) would do on
   * their next run, one sentence per line (`validate --live`): fields added
   * or gone at the source since the last run, and whether the run would add,
   * leave out or fail. Syncs without facts (never ran) or whose entities
   * cannot be described are left out.
   */
  async explainSchemaDrift(syncIds?: string[]): Promise<string[]> {
    const lines: string[] = []
    const state = await this.state()
    for (const sync of this.plan.syncs) {
      if (syncIds && !syncIds.includes(sync.id)) continue
      const facts = await state.getSyncFacts(sync.id)
      if (!facts) continue
      const source = await this.describeForValidation(sync.source.connection, sync.source.entity).catch(() => undefined)
      const destination = await this.describeForValidation(sync.destination.connection, sync.destination.entity).catch(() => undefined)
      const connector = await this.connector(sync.destination.connection).catch(() => undefined)
      if (!source || !destination || !connector) continue
      try {
        const drift = resolveSchemaDrift(sync, facts, source, destination, { createdNow: false, canAddFields: connector.addFields !== undefined, dryRun: true })
        for (const note of drift.notes) lines.push(`Sync '${sync.id}': ${note}`)
      } catch (error) {
        if (!(error instanceof SynclineError) || error.code !== 'SCHEMA_DRIFT') throw error
        lines.push(`The next run would fail with SCHEMA_DRIFT: ${error.message}`)
      }
    }
    return lines
  }

  private async describeForValidation(connection: string, entity: string): Promise<EntityInfo> {
    const connector = await this.connector(connection)
    const found = await connector.discover(entity)
    if (found[0]) return found[0]
    try {
      return await connector.describe(entity)
    } catch (error) {
      if (error instanceof SynclineError && error.code !== 'ENTITY_NOT_FOUND') {
        throw new NotFoundError('ENTITY_NOT_FOUND', 'config', error.message, { cause: error })
      }
      throw error
    }
  }

  /**
   * Rows that share a key with the row before them, by a key-ordered scan
   * (memory bounded). Only used when no primary or unique key covers the keys.
   */
  private async countDuplicateKeys(connection: string, entity: string, keys: string[]): Promise<number> {
    const connector = await this.connector(connection)
    const info = await connector.describe(entity)
    const types = keys.map((k) => info.fields.find((f) => f.name === k)?.type ?? 'text')
    let previous: KeyValues | undefined
    let duplicates = 0
    for await (const rows of connector.scan(entity, { fields: keys, keys, batchSize: 10_000 })) {
      for (const row of rows) {
        const key = keyOf(row, keys)
        if (previous && compareKeys(types, previous, key) === 0) duplicates++
        previous = key
      }
    }
    return duplicates
  }

  /** Add a sync; throws PlanError when the result would be invalid. Call savePlans() to persist. */
  addPlan(sync: SyncPlanInput): void {
    if (this.plan.syncs.some((s) => s.id === sync.id)) {
      throw new PlanError([{ path: 'syncs', message: `a sync with id '${sync.id}' exists already; use updatePlan() or another id` }])
    }
    this.replaceSyncs([...this.rawSyncs(), sync])
  }

  /** Replace the sync with the same id. */
  updatePlan(sync: SyncPlanInput): void {
    this.getPlan(sync.id)
    this.replaceSyncs(this.rawSyncs().map((s) => (s.id === sync.id ? sync : s)))
  }

  /** Remove a sync (its state stays until `forget`). */
  removePlan(id: string): void {
    this.getPlan(id)
    this.replaceSyncs(this.rawSyncs().filter((s) => s.id !== id))
  }

  /** Write the plan back to its file (the previous file is kept as `.bak`). */
  async savePlans(path?: string): Promise<{ path: string; backupPath?: string }> {
    const target = path ?? this.loaded.path
    if (!target) throw new SynclineError('PLAN_INVALID', 'config', 'This plan was given as an object; pass a path to savePlans(path).')
    const saved = await savePlanFile(target, this.rawPlan(), { previousRaw: this.loaded.raw, env: this.env })
    this.loaded = { ...this.loaded, path: target }
    return { path: target, ...saved }
  }

  /** Connect to a datasource and report version, capabilities and CDC readiness. */
  async checkConnection(name: string, opts: { signal?: AbortSignal } = {}): Promise<CheckReport> {
    return (await this.connector(name)).check(opts)
  }

  /** Describe an entity; throws ENTITY_NOT_FOUND with the closest name. */
  async checkEntity(connection: string, entity: string): Promise<EntityInfo> {
    return (await this.connector(connection)).describe(entity)
  }

  /**
   * List entities (or one) of a connection. Listing all, an entity that
   * cannot be described is passed to `opts.onUnreadable` and left out
   * (without it, it throws).
   * @example await manager.discover('files', undefined, { onUnreadable: (entity, error) => console.warn(entity, error.message) })
   */
  async discover(connection: string, entity?: string, opts: DiscoverOptions = {}): Promise<EntityInfo[]> {
    const connector = await this.connector(connection)
    return entity === undefined ? connector.discover(undefined, opts) : [await connector.describe(entity)]
  }

  /** The field pairs auto-map would use between two entities. */
  async autoMap(sourceConnection: string, sourceEntity: string, destinationConnection: string, destinationEntity: string): Promise<Array<{ source: string; destination: string }>> {
    const source = await this.checkEntity(sourceConnection, sourceEntity)
    const found = await (await this.connector(destinationConnection)).discover(destinationEntity)
    return autoMap(source.fields, found[0]?.fields)
  }

  /**
   * Run one sync once. Resolves with the result even when the sync failed
   * (see `status`); while another run of it goes on (in any process sharing
   * the state store), `failed` with `errorCode: 'LOCKED'`.
   */
  async run(id: string, opts: RunOptions = {}): Promise<SyncResult> {
    const [result] = await this.runMany([id], opts)
    return result!
  }

  /**
   * Run several syncs (default: all) once, parents before children when
   * their destinations are linked by foreign keys.
   */
  async runMany(ids?: string[], opts: RunOptions = {}): Promise<SyncResult[]> {
    const selected = (ids ?? this.plan.syncs.map((s) => s.id)).map((id) => this.getPlan(id))
    const state = await this.state()
    const targets: RunTarget[] = []
    for (const plan of selected) {
      targets.push({
        plan,
        index: this.plan.syncs.indexOf(plan),
        source: await this.connector(plan.source.connection),
        destination: await this.connector(plan.destination.connection),
        state,
      })
    }
    const onProgress = opts.onProgress
    // The newest `conflict` listener decides two-way conflicts (docs/two-way.md).
    const onConflict = opts.onConflict ?? (this.listeners('conflict').at(-1) as ConflictResolver | undefined)
    const results = await runSyncs(targets, {
      ...opts,
      ...(onConflict ? { onConflict } : {}),
      onProgress: (p) => {
        onProgress?.(p)
        this.emit('progress', p)
      },
    })
    for (const r of results) this.emit('run', r)
    return results
  }

  /**
   * Compare a sync's source and destination without writing anything: the
   * rows a run would create (missing), update (changed) and delete (extra),
   * with the first keys of each. Takes no run lock and records no run.
   * Throws a SynclineError (failure `config`) for a sync that cannot be
   * compared; see docs/plan-and-cli.md, "syncline verify".
   * @example
   * const r = await manager.verify('customers')
   * if (!r.inStep) console.log(r.missing, r.samples.missing)
   */
  async verify(id: string, opts: VerifyOptions = {}): Promise<VerifyResult> {
    const plan = this.getPlan(id)
    return verifySync(
      { plan, index: this.plan.syncs.indexOf(plan), source: await this.connector(plan.source.connection), destination: await this.connector(plan.destination.connection) },
      opts,
    )
  }

  /**
   * Watch an entity's changes (DESIGN §1.3 events), in commit order, until
   * stopped; the callback may be async (the next event waits for it). The
   * handle is the stop function and carries `ready`, `done` and `position`
   * (see {@link WatchHandle}); `since` resumes after a position.
   * @example
   * const stop = manager.watch('shop', 'Customer', (event) => console.log(event.type, event.recordId, event.changes))
   * await stop.ready
   * // …later
   * await stop()
   */
  watch(connection: string, entity: string, callback: WatchCallback, opts: WatchOptions = {}): WatchHandle {
    const handle = startWatch(
      { connection, entity, connector: () => this.connector(connection), state: () => this.state(), retentionMs: () => watchRetentionMs(this.env) },
      callback,
      opts,
    )
    this.watches.add(handle)
    void handle.done.catch(() => undefined).finally(() => this.watches.delete(handle))
    return handle
  }

  /**
   * Forget a stopped watch for good: its consumer at the source (slot,
   * change-log reader) and in the state store, so the source stops keeping
   * changes for it. `position` is any position of that watch.
   */
  async dropWatch(connection: string, position: string): Promise<void> {
    const { consumer } = decodeWatchPosition(position)
    await (await this.connector(connection)).dropChangeFeed?.(consumer)
    await (await this.state()).forgetWatchConsumer(connection, consumer)
  }

  /**
   * The change-feed consumers a connection's datasource keeps (slots,
   * change-log readers), with lag and retained log, and for watches when
   * they ended; first drops the watches released longer ago than the
   * retention. Undefined when the connection keeps no change feeds.
   */
  async changeFeeds(connection: string): Promise<{ feeds: ChangeFeedReport[]; dropped: DroppedWatches } | undefined> {
    return reportChangeFeeds(connection, await this.connector(connection), await this.state(), watchRetentionMs(this.env))
  }

  /**
   * Watermark, last run and run lock of every sync that has state; a run
   * whose process died shows as `failed` (interrupted).
   */
  async status(): Promise<SyncStatus[]> {
    const state = await this.checkedState()
    const locks = new Map((await state.listRunLocks()).map((lock) => [lock.syncId, lock]))
    const statuses: SyncStatus[] = (await state.listSyncStates()).map((s) => {
      const lock = locks.get(s.syncId)
      return lock ? { ...s, lock } : s
    })
    for (const saved of await state.listFeedPositions()) {
      let status = statuses.find((s) => s.syncId === saved.syncId)
      if (!status) statuses.push((status = { syncId: saved.syncId }))
      status.stream = await this.streamStatus(saved)
    }
    return statuses
  }

  /** A saved stream position, completed by what the source says about its consumer. */
  private async streamStatus(saved: FeedPosition): Promise<StreamStatus> {
    const stream: StreamStatus = { consumer: saved.consumer, position: saved.position, updatedAt: saved.updatedAt }
    if (saved.committedAt !== undefined) stream.committedAt = saved.committedAt
    const behind = saved.committedAt === undefined ? undefined : Math.max(0, (Date.now() - Date.parse(saved.committedAt)) / 1000)
    if (this.plan.connections[saved.connection] === undefined) {
      if (behind !== undefined) stream.lagSeconds = behind
      return stream
    }
    try {
      const source = await this.connector(saved.connection)
      const feed = (await source.listChangeFeeds?.())?.find((f) => f.consumer === saved.consumer)
      if (feed) {
        for (const field of ['lagBytes', 'retainedBytes', 'pendingChanges', 'lost'] as const) if (feed[field] !== undefined) Object.assign(stream, { [field]: feed[field] })
        stream.active = feed.active
      }
      const caughtUp = feed !== undefined && feed.lost === undefined && (feed.lagBytes === 0 || feed.pendingChanges === 0)
      if (caughtUp) stream.lagSeconds = 0
      else if (behind !== undefined) stream.lagSeconds = behind
    } catch (error) {
      stream.sourceError = error instanceof Error ? error.message : String(error)
      if (behind !== undefined) stream.lagSeconds = behind
    }
    return stream
  }

  /**
   * The run lock of a sync while a live run (in any process sharing the
   * state store) holds it; undefined when none does or its holder is gone.
   */
  async liveRunLock(syncId: string): Promise<RunLock | undefined> {
    const lock = await (await this.state()).getRunLock(syncId)
    return lock === undefined || isRunLockStale(lock) ? undefined : lock
  }

  /** Run history, newest first; a run whose process died shows as `failed` (interrupted). */
  async history(syncId?: string, limit = 20): Promise<RunRecord[]> {
    return (await this.checkedState()).listRuns({ ...(syncId ? { syncId } : {}), limit })
  }

  /**
   * Drop run history (and its record errors) beyond the plan's `history:`
   * retention: runs both older than `keepDays` and beyond the newest
   * `keepRuns` of their sync. `dryRun` counts without removing.
   * @example const { runs, recordErrors } = await manager.pruneHistory({ dryRun: true })
   */
  async pruneHistory(opts: { dryRun?: boolean; now?: Date } = {}): Promise<PruneHistoryResult & { olderThan: string; keepRuns: number }> {
    const { keepDays, keepRuns } = this.plan.history
    const olderThan = new Date((opts.now ?? new Date()).getTime() - keepDays * 86_400_000).toISOString()
    const result = await (await this.state()).pruneHistory({ olderThan, keepRuns, ...(opts.dryRun ? { dryRun: true } : {}) })
    return { ...result, olderThan, keepRuns }
  }

  /** Records the destination rejected, newest first. */
  async recordErrors(opts: { syncId?: string; runId?: string; limit?: number } = {}): Promise<RecordErrorEntry[]> {
    return (await this.state()).listRecordErrors(opts)
  }

  /** How many records the destination rejected (all runs, or one sync's, or one run's). */
  async recordErrorCount(opts: { syncId?: string; runId?: string } = {}): Promise<number> {
    return (await this.state()).countRecordErrors(opts)
  }

  /**
   * Conflicts of two-way syncs waiting for a person (`conflict: manual`),
   * newest first; `open: false` lists settled ones too.
   */
  async conflicts(opts: { syncId?: string; open?: boolean; limit?: number } = {}): Promise<StoredConflict[]> {
    return (await this.state()).twoWay().listConflicts(opts)
  }

  /**
   * Settle an open conflict: the taken side's current row (or its delete)
   * is written to the other side and becomes the base.
   * @example await manager.resolveConflict('0b6f…', 'destination')
   */
  async resolveConflict(id: string, take: ConflictSide): Promise<StoredConflict> {
    const state = await this.state()
    const conflict = await state.twoWay().getConflict(id)
    if (!conflict) throw new SynclineError('CONFLICT_NOT_FOUND', 'config', `No conflict with id '${id}'; 'syncline conflicts' lists the open ones with their ids.`)
    const plan = this.getPlan(conflict.syncId)
    const target: RunTarget = {
      plan,
      index: this.plan.syncs.indexOf(plan),
      source: await this.connector(plan.source.connection),
      destination: await this.connector(plan.destination.connection),
      state,
    }
    return resolveConflict(target, conflict, take)
  }

  /**
   * Forget a sync's watermark, history, errors and stream position (the next
   * run starts over), and drop a realtime sync's consumer at its source (its
   * slot and publication, or change-log position), so the source stops
   * keeping its log for it. The consumer is dropped first: a source that
   * cannot be reached now fails this, and the state stays for another try.
   */
  async forget(syncId: string): Promise<void> {
    const state = await this.state()
    const saved = await state.getFeedPosition(syncId)
    const sync = this.plan.syncs.find((s) => s.id === syncId)
    const connection = saved?.connection ?? (sync?.mode === 'realtime' ? sync.source.connection : undefined)
    if (connection !== undefined && this.plan.connections[connection] !== undefined) {
      const source = await this.connector(connection)
      await source.dropChangeFeed?.(saved?.consumer ?? consumerName(syncId))
    }
    // A realtime two-way sync also streams its destination, under a position of its own.
    const destinationId = destinationPositionId(syncId)
    const other = await state.getFeedPosition(destinationId)
    if (other && this.plan.connections[other.connection] !== undefined) await (await this.connector(other.connection)).dropChangeFeed?.(other.consumer)
    if (other) await state.forgetSync(destinationId)
    await state.forgetSync(syncId)
  }

  /** Close connections and the state store. */
  async close(): Promise<void> {
    // Watches first: they acknowledge and release their consumers through the connectors and the state store.
    await Promise.all([...this.watches].map((stop) => stop().catch(() => undefined)))
    const connectors = [...this.connectors.values()]
    this.connectors.clear()
    await Promise.all(connectors.map(async (c) => (await c.catch(() => undefined))?.close()))
    const state = this.statePromise
    this.statePromise = undefined
    await (await state?.catch(() => undefined))?.close()
  }

  /** The connector of a named connection (created once, connected on first use). */
  async connector(name: string): Promise<Connector> {
    let connector = this.connectors.get(name)
    if (!connector) {
      const config = this.plan.connections[name]
      if (!config) {
        const names = Object.keys(this.plan.connections)
        throw new SynclineError('CONNECTION_NOT_FOUND', 'config', `No connection '${name}' in the plan.${didYouMean(name, names)} Known connections: ${names.join(', ') || '(none)'}.`)
      }
      connector = createConnector({ name, url: config.url, password: config.password, token: config.token, secret: config.secret, cdc: config.cdc, baseDir: this.loaded.baseDir })
      this.connectors.set(name, connector)
      connector.catch(() => this.connectors.delete(name))
    }
    return connector
  }

  /** The state store, opened once; runs left `running` by a dead process are marked when it opens. */
  private async state(): Promise<StateStore> {
    if (!this.statePromise) {
      this.statePromise = openStateStore(this.plan.state, { baseDir: this.loaded.baseDir }).then(async (state) => {
        await markInterruptedRunsQuietly(state)
        return state
      })
      this.statePromise.catch(() => (this.statePromise = undefined))
    }
    return this.statePromise
  }

  /** The state store, with runs whose process died since it was opened marked too (a long-lived manager). */
  private async checkedState(): Promise<StateStore> {
    const opening = this.statePromise === undefined
    const state = await this.state()
    if (!opening) await markInterruptedRunsQuietly(state)
    return state
  }

  /** The plan as written (before defaults and env expansion), for edits and saving. */
  private rawPlan(): PlanInput {
    const raw = this.loaded.raw
    return (raw && typeof raw === 'object' ? structuredClone(raw) : { connections: {}, syncs: [] }) as PlanInput
  }

  private rawSyncs(): SyncPlanInput[] {
    return [...(this.rawPlan().syncs ?? [])]
  }

  private replaceSyncs(syncs: SyncPlanInput[]): void {
    const raw = { ...this.rawPlan(), syncs }
    const next = parsePlan(raw, { env: this.env, baseDir: this.loaded.baseDir })
    this.loaded = { ...next, path: this.loaded.path, raw }
  }
}

/**
 * Mark dead runs; a store that cannot be written now (read-only, busy) must
 * not stop `status` or `history` from showing what it holds.
 */
async function markInterruptedRunsQuietly(state: StateStore): Promise<void> {
  await markInterruptedRuns(state).catch(() => undefined)
}
