/**
 * Incremental two-way sync (DESIGN §3, docs/two-way.md). Each run:
 *
 * 1. reads the source's changes since its `(cursor, key)` watermark, and
 *    for each changed key looks up the destination row and the base;
 * 2. does the same for the destination's changes since its own watermark;
 * 3. with `deletes: propagate`, merges both sides' keys with the base's: a
 *    key in the base that one side lacks was deleted there, and a key one
 *    side has that the base lacks is new (rows whose cursor is NULL too).
 *
 * Every key is decided by src/engine/conflict-resolution.ts. Per batch, in
 * this order: record pending two-sided writes; write the destination; write
 * the source; record the new base; save the watermark. A run killed anywhere
 * in between re-reads the batch, finds the side it wrote equal to the other
 * (or a pending write half done) and converges without a false conflict.
 * A row the engine wrote becomes the base, so when the next run reads it
 * back as a change it matches the base and is not sent back (no echo).
 */
import { randomUUID } from 'node:crypto'
import { keyOf, type Filter } from '../connectors/connector.js'
import { durationMs } from '../plan/schema.js'
import { SynclineError } from '../errors.js'
import type { StoredConflict, TwoWayState, BaseEntry } from '../state/two-way-state.js'
import { baseKeyId } from '../state/two-way-state.js'
import type { Watermark } from '../state/state-store.js'
import type { CanonicalType, KeyValues, Row } from '../values/canonical.js'
import { normalizeDecimal } from '../values/compare.js'
import { decodeSortKey, sortKey } from '../values/sort-key.js'
import { BatchWriter, recordId, type Operation } from './batch-writer.js'
import { rowHash, sameHash } from './row-hash.js'
import { changedFields, decide, type ConflictResolver, type Decision, type KeyView } from './conflict-resolution.js'
import { report, type RunContext } from './run-context.js'
import { keysToDecide, ScanKeys, type HexKeyStream } from './three-way-keys.js'
import { keyPageSize } from './key-page.js'
import { twoWayMapping, type TwoWayMapping } from './two-way-mapping.js'
import { capWatermark, isClockCursor, laterWatermark, scanStart, watermarkTracker } from './watermark.js'

/** What a two-way run needs beyond its context. */
export interface TwoWayOptions {
  /** The sync's position in the plan, for error paths. */
  index: number
  /** The `conflict` listener (`manager.on('conflict', fn)`), consulted before the plan's strategy. */
  onConflict?: ConflictResolver
  /**
   * Only the key pass (deletes and rows the cursors cannot see): the
   * children-first phase of syncs linked by foreign keys, after every sync's
   * changes went parents first with `deletes: 'defer'`.
   */
  keyPassOnly?: boolean
}

/** One two-way run in progress (also the realtime two-way stream's, src/engine/two-way-realtime.ts). */
export interface TwoWayRun {
  ctx: RunContext
  mapping: TwoWayMapping
  state: TwoWayState
  sourceWriter: BatchWriter
  resolver?: ConflictResolver
  /** Source key types, for the source watermark. */
  sourceKeyTypes: CanonicalType[]
  /**
   * Dry runs only: keys already decided. Nothing is written, so a later pass
   * would find the same difference again and count it twice. Grows with the
   * changes, not the table.
   */
  planned?: Set<string>
  /** The pass running: the source's changes, the destination's, or the key pass. */
  phase: 'source' | 'destination' | 'keys'
  /**
   * Record ids the source pass read (unchanged or decided), so a later pass
   * reading the same key does not count it unchanged again. Undefined when
   * the source pass reads every row (the first run): every key then is in
   * it. Otherwise it grows with the source's changes, not the table.
   */
  readBySource?: Set<string>
}

/** Run one incremental two-way sync. */
export async function twoWaySync(ctx: RunContext, opts: TwoWayOptions): Promise<void> {
  const run = createTwoWayRun(ctx, opts)
  // A run's deletes-only phase (foreign keys: after every sync's writes, children first) is the key pass alone.
  if (!opts.keyPassOnly) {
    await readChanges(run, 'source')
    await readChanges(run, 'destination')
  }
  // 'defer': the run's children-first phase makes the deletes (keyPassOnly).
  if (ctx.deletes === 'propagate') await keyPass(run)
}

/** The mapping both ways, the base and a writer for the source, for one run. */
export function createTwoWayRun(ctx: RunContext, opts: TwoWayOptions): TwoWayRun {
  const p = ctx.prepared
  const mapping = twoWayMapping(p, opts.index)
  const sourceWriter = new BatchWriter({
    destination: p.source,
    entity: p.sourceEntity.name,
    keys: p.keys,
    syncId: p.plan.id,
    runId: ctx.runId,
    counts: ctx.counts,
    maxErrors: p.plan.maxErrors,
    dryRun: ctx.dryRun,
    signal: ctx.signal,
    onRejected: (entries) => ctx.state.addRecordErrors(entries),
    ...(ctx.onPlanned ? { onPlanned: (ops: readonly Operation[]) => ctx.onPlanned?.(ops, 'source') } : {}),
  })
  // maxErrors is one budget for the run: rejections on either side count against it.
  ctx.writer.shareBudget(sourceWriter)
  const run: TwoWayRun = {
    ctx,
    mapping,
    state: ctx.state.twoWay(),
    sourceWriter,
    sourceKeyTypes: p.keys.map((k) => p.sourceEntity.fields.find((f) => f.name === k)?.type ?? 'text'),
    phase: 'source',
  }
  if (opts.onConflict) run.resolver = opts.onConflict
  if (ctx.dryRun) run.planned = new Set()
  return run
}

/** Phase 1 or 2: one side's rows changed since its watermark, then its rows with a NULL cursor. */
export async function readChanges(run: TwoWayRun, side: 'source' | 'destination'): Promise<void> {
  const { ctx, mapping, state } = run
  const p = ctx.prepared
  const isSource = side === 'source'
  const connector = isSource ? p.source : p.destination
  const entity = isSource ? p.sourceEntity.name : p.destinationEntity.name
  const keys = isSource ? p.keys : p.destinationKeys
  const fields = isSource ? mapping.forward.sourceFields : mapping.destinationFields
  const cursorField = isSource ? mapping.sourceCursor : mapping.destinationCursor
  const cursorType = isSource ? mapping.sourceCursorType : mapping.destinationCursorType
  const tracker = watermarkTracker(cursorField, cursorType, keys, isSource ? run.sourceKeyTypes : p.keyTypes)
  const saved = ctx.full ? undefined : isSource ? await ctx.state.getWatermark(p.plan.id) : await state.getDestinationWatermark(p.plan.id)
  run.phase = side
  if (isSource && saved) run.readBySource = new Set()
  // Taken before the scan: a transaction open now may commit older cursor values later.
  const cap = isClockCursor(cursorType) ? await connector.oldestOpenTransactionStart?.({ signal: ctx.signal }) : undefined
  const start = scanStart(cursorField, cursorType, saved, durationMs(p.plan.lookback))
  report(ctx, 'changes', 0, undefined, saved ? `Reading ${side} changes since ${String(saved.cursor)}` : `First two-way run: reading every ${side} row`)

  // Past a batch with a rejected record the watermark stays put, so the next run retries it.
  let blocked = false
  let read = 0
  for await (const rows of connector.scan(entity, { fields, keys, cursor: start, batchSize: p.plan.batchSize, signal: ctx.signal })) {
    read += rows.length
    const { views, known } = await viewsOf(run, side, rows)
    const rejected = await syncKeys(run, views, known)
    if (rejected > 0) blocked = true
    const last = rows[rows.length - 1]
    if (!blocked && !ctx.dryRun && last) {
      laterWatermark(tracker, last)
      if (tracker.highest) await saveSideWatermark(run, side, capWatermark(tracker, tracker.highest, cap))
    }
    report(ctx, 'changes', read, undefined, `${read} changed ${side} rows read`)
  }
  // Rows whose cursor is NULL cannot be placed after a watermark: compared on every run.
  const nulls: Filter[] = [{ field: cursorField, op: 'is_null' }]
  for await (const rows of connector.scan(entity, { fields, keys, filters: nulls, batchSize: p.plan.batchSize, signal: ctx.signal })) {
    const { views, known } = await viewsOf(run, side, rows)
    await syncKeys(run, views, known)
  }
}

async function saveSideWatermark(run: TwoWayRun, side: 'source' | 'destination', watermark: Watermark): Promise<void> {
  const id = run.ctx.prepared.plan.id
  if (side === 'source') await run.ctx.state.setWatermark(id, watermark)
  else await run.state.setDestinationWatermark(id, watermark)
}

/**
 * Both sides of the keys of rows read from one side: the other side is
 * looked up, except for rows equal to their base with no conflict open:
 * that side did not change, and a change on the other side is found by the
 * other side's own cursor scan (this run's or the next). This spares the
 * look-ups for echoes of the engine's own writes and for re-read rows.
 */
async function viewsOf(run: TwoWayRun, side: 'source' | 'destination', rows: Row[]): Promise<{ views: KeyView[]; known: KnownState }> {
  const { ctx, mapping, state } = run
  const p = ctx.prepared
  ctx.counts.read += rows.length
  const candidates: KeyView[] = []
  for (const row of rows) {
    const view = newView(run, keyOf(row, side === 'source' ? p.keys : p.destinationKeys))
    if (!view) continue
    if (side === 'source') view.source = row
    else view.destination = row
    candidates.push(view)
  }
  const known: KnownState = {
    bases: await state.getBase(p.plan.id, candidates.map((v) => v.keyBytes)),
    open: await state.openConflicts(p.plan.id, candidates.map((v) => v.recordId)),
  }
  const views = candidates.filter((view) => {
    const base = known.bases.get(baseKeyId(view.keyBytes))
    if (!base?.hash || base.pending || known.open.has(view.recordId)) return true
    let row = view.destination
    if (side === 'source') {
      try {
        row = view.sourceMapped = mapping.forward.map(view.source!)
      } catch {
        return true // rejected with its reason by syncKeys
      }
    }
    if (!sameHash(rowHash(row!, mapping.compared), base.hash)) return true
    countUnchanged(run, view.recordId)
    return false
  })
  const keys = views.map((v) => v.key)
  const others = keys.length === 0 ? new Map<string, Row>() : side === 'source' ? await lookupDestination(run, keys) : await lookupSource(run, keys)
  for (const view of views) {
    const other = others.get(view.recordId)
    if (!other) continue
    if (side === 'source') view.destination = other
    else view.source = other
  }
  return { views, known }
}

/** Count a key unchanged once per run, though each pass may read it. */
function countUnchanged(run: TwoWayRun, id: string): void {
  if (run.phase === 'source') {
    run.ctx.counts.unchanged++
    run.readBySource?.add(id)
  } else if (run.readBySource && !run.readBySource.has(id)) {
    run.ctx.counts.unchanged++
  }
}

/** Base entries and open conflicts of a batch's keys, when already read. */
export interface KnownState {
  bases: Map<string, BaseEntry>
  open: Map<string, StoredConflict>
}

export function newView(run: TwoWayRun, raw: KeyValues): KeyView | undefined {
  const key = sameKeyForm(run.ctx.prepared.keyTypes, raw)
  const keyBytes = sortKey(run.ctx.prepared.keyTypes, key)
  // A key with a NULL part cannot be a base key; such rows cannot be matched across sides either.
  if (keyBytes === undefined) return undefined
  return { key, keyBytes, recordId: recordId(key) }
}

/**
 * A key in one spelling per value, so its record id matches across sides
 * and with the base's decoded keys: `1.50` from PostgreSQL and `1.5` from
 * SQLite are one decimal key, -0 and 0 one float key.
 */
function sameKeyForm(types: readonly CanonicalType[], key: KeyValues): KeyValues {
  if (!types.some((t) => t === 'decimal' || t === 'float')) return key
  return key.map((value, i) => {
    if (value === null) return value
    if (types[i] === 'decimal' && (typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint')) return normalizeDecimal(value)
    if (types[i] === 'float' && value === 0) return 0
    return value
  })
}

export async function lookupDestination(run: TwoWayRun, keys: KeyValues[]): Promise<Map<string, Row>> {
  const p = run.ctx.prepared
  const found = await p.destination.lookup(p.destinationEntity.name, p.destinationKeys, keys, run.mapping.destinationFields, { signal: run.ctx.signal })
  return new Map(found.map((row) => [recordId(sameKeyForm(p.keyTypes, keyOf(row, p.destinationKeys))), row]))
}

export async function lookupSource(run: TwoWayRun, keys: KeyValues[]): Promise<Map<string, Row>> {
  const p = run.ctx.prepared
  const found = await p.source.lookup(p.sourceEntity.name, p.keys, keys, run.mapping.forward.sourceFields, { signal: run.ctx.signal })
  return new Map(found.map((row) => [recordId(sameKeyForm(p.keyTypes, keyOf(row, p.keys))), row]))
}

/**
 * Decide and write a batch of keys; returns how many records were rejected
 * (their base is left as it was, so the next run tries them again).
 */
export async function syncKeys(run: TwoWayRun, all: KeyView[], known?: KnownState): Promise<number> {
  const planned = run.planned
  const { writer } = run.ctx
  // Rejected earlier in this run (a side pass, then the key pass): trying again would only reject it twice.
  const fresh = writer.rejected + run.sourceWriter.rejected === 0 ? all : all.filter((v) => !writer.rejectedIds.has(v.recordId) && !run.sourceWriter.rejectedIds.has(v.recordId))
  const views = planned ? fresh.filter((v) => !planned.has(v.recordId)) : fresh
  for (const v of views) planned?.add(v.recordId)
  if (views.length === 0) return 0
  const { ctx, mapping, state } = run
  const p = ctx.prepared
  const syncId = p.plan.id
  const bases = known?.bases ?? (await state.getBase(syncId, views.map((v) => v.keyBytes)))
  const open = known?.open ?? (await state.openConflicts(syncId, views.map((v) => v.recordId)))
  const rejectedBefore = ctx.writer.rejected + run.sourceWriter.rejected

  const decided: { view: KeyView; decision: Decision }[] = []
  for (const view of views) {
    const base = bases.get(baseKeyId(view.keyBytes))
    if (base) view.base = base
    if (view.source && !view.sourceMapped) {
      try {
        view.sourceMapped = mapping.forward.map(view.source)
      } catch (error) {
        if (!(error instanceof SynclineError) || error.failure !== 'data') throw error
        await ctx.writer.reject({ kind: view.destination ? 'update' : 'create', row: view.source, key: view.key }, error)
        continue
      }
    }
    decided.push({ view, decision: await decide(view, { plan: p.plan, mapping, ...(run.resolver ? { resolver: run.resolver } : {}) }) })
  }

  const toDestination: Operation[] = []
  const toSource: Operation[] = []
  const pending: BaseEntry[] = []
  for (const { view, decision } of decided) {
    if (decision.toDestination === 'delete') toDestination.push({ kind: 'delete', key: view.key })
    else if (decision.toDestination) toDestination.push({ kind: view.destination ? 'update' : 'create', row: decision.toDestination, key: view.key })
    if (decision.toSource === 'delete') toSource.push({ kind: 'delete', key: view.key })
    else if (decision.toSource) {
      try {
        toSource.push({ kind: view.source ? 'update' : 'create', row: mapping.backward.map(decision.toSource), key: view.key })
      } catch (error) {
        if (!(error instanceof SynclineError) || error.failure !== 'data') throw error
        await run.sourceWriter.reject({ kind: view.source ? 'update' : 'create', row: decision.toSource, key: view.key }, error)
      }
    }
    if (decision.pending) pending.push({ ...(view.base ?? { key: view.keyBytes }), key: view.keyBytes, pending: decision.pending })
    if (!decision.conflict && !decision.toDestination && !decision.toSource) countUnchanged(run, view.recordId)
    else if (run.phase === 'source') run.readBySource?.add(view.recordId)
  }

  if (!ctx.dryRun) await state.writeBase(syncId, pending, [])
  await ctx.writer.write(toDestination)
  await run.sourceWriter.write(toSource)
  if (ctx.dryRun) return ctx.writer.rejected + run.sourceWriter.rejected - rejectedBefore

  // Only now, with both sides committed, does the base move.
  const put: BaseEntry[] = []
  const remove: Uint8Array[] = []
  const conflicts: StoredConflict[] = []
  const settled: string[] = []
  const now = new Date().toISOString()
  for (const { view, decision } of decided) {
    if (ctx.writer.rejectedIds.has(view.recordId) || run.sourceWriter.rejectedIds.has(view.recordId)) continue
    const existing = open.get(view.recordId)
    if (decision.conflict?.resolution === 'manual') {
      conflicts.push(storedConflict(run, view, decision.conflict.kind, existing, now))
      if (!existing) ctx.counts.conflicts++
      continue
    }
    if (decision.conflict && !existing) ctx.counts.conflicts++
    if (existing) settled.push(view.recordId)
    if (decision.base === 'remove') {
      if (view.base) remove.push(view.keyBytes)
    } else if (decision.base !== 'keep') {
      const unchanged = view.base?.hash && !view.base.pending && Buffer.from(view.base.hash).equals(decision.base.hash) && sameFields(view.base.fields, decision.base.fields)
      if (!unchanged) put.push({ key: view.keyBytes, hash: decision.base.hash, ...(decision.base.fields ? { fields: decision.base.fields } : {}) })
    }
  }
  await state.writeBase(syncId, put, remove)
  await state.saveConflicts(conflicts)
  await state.resolveConflicts(syncId, settled, 'agreed', now)
  return ctx.writer.rejected + run.sourceWriter.rejected - rejectedBefore
}

function sameFields(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined) return a === b
  return Buffer.from(a).equals(Buffer.from(b))
}

function storedConflict(run: TwoWayRun, view: KeyView, kind: StoredConflict['kind'], existing: StoredConflict | undefined, now: string): StoredConflict {
  const changed = changedFields(view, run.mapping)
  return {
    id: existing?.id ?? randomUUID(),
    syncId: run.ctx.prepared.plan.id,
    recordId: view.recordId,
    key: view.key,
    kind,
    source: view.source ?? null,
    destination: view.destination ?? null,
    base: { hash: view.base?.hash ? Buffer.from(view.base.hash).toString('hex') : null, ...(changed ? { changed } : {}) },
    detectedAt: existing?.detectedAt ?? now,
  }
}

/**
 * Phase 3: both sides' keys (key order) merged with the base's (the same
 * order, by their encoding). Every key not on both sides and in the base is
 * decided: deletes, and new rows the cursor scans cannot see.
 */
export async function keyPass(run: TwoWayRun): Promise<void> {
  const { ctx, state } = run
  const p = ctx.prepared
  const { batchSize } = p.plan
  run.phase = 'keys'
  const page = keyPageSize(batchSize)
  const keyScan = (side: 'source' | 'destination') => {
    const connector = side === 'source' ? p.source : p.destination
    const entity = side === 'source' ? p.sourceEntity.name : p.destinationEntity.name
    const keys = side === 'source' ? p.keys : p.destinationKeys
    return new ScanKeys(connector.scan(entity, { fields: keys, keys, batchSize: page, signal: ctx.signal }), keys, p.keyTypes, `${side} ${connector.name}.${entity}`)
  }
  const chunks = keysToDecide(keyScan('source'), keyScan('destination'), new BaseKeys(state, p.plan.id, page), batchSize, (compared) =>
    report(ctx, 'deletes', compared, undefined, `${compared} keys compared with the base`),
  )
  for await (const chunk of chunks) {
    const keys = chunk.map((k) => decodeSortKey(p.keyTypes, Buffer.from(k.hex, 'hex')))
    const [sources, destinations] = await Promise.all([lookupSource(run, keys), lookupDestination(run, keys)])
    const views: KeyView[] = []
    for (const key of keys) {
      const view = newView(run, key)
      if (!view) continue
      const s = sources.get(view.recordId)
      const d = destinations.get(view.recordId)
      if (s) view.source = s
      if (d) view.destination = d
      views.push(view)
    }
    await syncKeys(run, views)
  }
}

/** A sync's base keys in key order, a page at a time. */
class BaseKeys implements HexKeyStream {
  private page: string[] = []
  private index = 0
  private ended = false

  constructor(
    private readonly state: TwoWayState,
    private readonly syncId: string,
    private readonly pageSize: number,
  ) {}

  get current(): string | undefined {
    return this.page[this.index]
  }

  get ready(): boolean {
    return this.index < this.page.length || this.ended
  }

  async fill(): Promise<void> {
    if (this.ready) return
    const last = this.page[this.page.length - 1]
    this.page = await this.state.scanBaseKeys(this.syncId, last, this.pageSize)
    this.index = 0
    if (this.page.length < this.pageSize) this.ended = true
  }

  take(): void {
    this.index++
  }

  async close(): Promise<void> {}
}
