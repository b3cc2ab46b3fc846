/**
 * `verify`: compare a sync's source and destination without writing
 * (docs/plan-and-cli.md, "syncline verify"). It pairs rows with the very
 * merge a full sync uses ({@link mergeWithDestination}) and asks, for each
 * key, which operation that sync would make ({@link operationFor}): mapping,
 * transforms, filters, soft deletes and `deletes:` apply exactly as in a run.
 * A create is a row missing at the destination, an update a changed row, a
 * delete an extra row. Memory holds one batch per side and the capped samples.
 *
 * It takes no run lock, records no run and touches no state: it reads both
 * sides like any reader would, so it may run beside a sync (rows written
 * while it reads can show as differences; verify again once the sync ends).
 *
 * Where both sides can checksum key ranges, {@link compareRows} compares
 * per-range checksums first (./checksum-descent.ts) and merges only the keys
 * in ranges that differ, feeding the same {@link VerifyTally}, so the result
 * and its samples are those of the row-by-row comparison.
 */
import type { Connector } from '../connectors/connector.js'
import { throwIfAborted } from '../errors.js'
import type { SyncPlan } from '../plan/schema.js'
import type { CanonicalType, Row } from '../values/canonical.js'
import { valuesEqual } from '../values/compare.js'
import { recordId } from '../values/record-id.js'
import { BatchWriter, type Operation } from './batch-writer.js'
import { requireOrderedKeyScan } from './capabilities.js'
import { checksumComparison, differingSteps } from './checksum-descent.js'
import { mergeWithDestination, operationFor } from './full-sync.js'
import { prepareSync } from './prepare-sync.js'
import { emptyCounts } from './progress.js'
import { destinationTypes, type CompareContext } from './run-context.js'
import { twoWayMapping } from './two-way-mapping.js'

/** Keys listed per kind of difference; the counts go on past them. */
export const VERIFY_SAMPLES = 10

/** What `verify` found for one sync (also the `verify --json` line). */
export interface VerifyResult {
  id: string
  /** A two-way sync is compared on the fields both directions write (missing: only at the source; extra: only at the destination). */
  direction: 'one-way' | 'two-way'
  /** True when a run would change nothing: no missing, extra, changed or failed rows. */
  inStep: boolean
  /** Keys compared: every key found on either side (after the source's filters). */
  compared: number
  /** Source rows the destination lacks (a run would create them). */
  missing: number
  /**
   * Destination rows a run would delete: absent at the source (`deletes:
   * propagate`) or marked deleted there (`softDelete`).
   */
  extra: number
  /** Rows whose mapped values differ (a run would update them). */
  changed: number
  /** Source rows the mapping rejects (a run would record them as rejected). */
  failed: number
  /** Destination-only rows a run keeps because of `deletes: ignore`: not a difference. */
  kept: number
  /** The first {@link VERIFY_SAMPLES} record ids of each kind (`42`, or `[1,"a"]` for composite keys). */
  samples: { missing: string[]; extra: string[]; changed: string[]; failed: string[] }
  /** For each id in `samples.changed`, at the same index: the destination fields that differ. */
  changedFields: string[][]
  durationMs: number
}

/** What a verify needs: the sync and its two connectors. */
export interface VerifyTarget {
  plan: SyncPlan
  /** Position in the plan's `syncs`, for error paths. */
  index: number
  source: Connector
  destination: Connector
}

/** Options of `manager.verify()`. */
export interface VerifyOptions {
  signal?: AbortSignal
}

/** Counts and capped samples, fed one merged key at a time. */
export class VerifyTally {
  readonly result: Omit<VerifyResult, 'id' | 'direction' | 'inStep' | 'durationMs'> = {
    compared: 0,
    missing: 0,
    extra: 0,
    changed: 0,
    failed: 0,
    kept: 0,
    samples: { missing: [], extra: [], changed: [], failed: [] },
    changedFields: [],
  }

  /** Count one key: the operation a run would make for it (undefined: none), and the destination row. */
  add(op: Operation | undefined, destinationRow: Row | undefined, types: ReadonlyMap<string, CanonicalType>, sourceRow: Row | undefined): void {
    const r = this.result
    r.compared++
    if (op === undefined) {
      if (sourceRow === undefined) r.kept++
      return
    }
    const kind = op.kind === 'create' ? 'missing' : op.kind === 'update' ? 'changed' : 'extra'
    r[kind]++
    if (r.samples[kind].length >= VERIFY_SAMPLES) return
    r.samples[kind].push(recordId(op.key))
    if (op.kind === 'update') r.changedFields.push(differingFields(op.row, destinationRow ?? {}, types))
  }

  /** A source row the mapping rejected (already counted as compared by {@link add}). */
  addFailed(id: string): void {
    this.result.failed++
    if (this.result.samples.failed.length < VERIFY_SAMPLES) this.result.samples.failed.push(id)
  }
}

function differingFields(mapped: Row, existing: Row, types: ReadonlyMap<string, CanonicalType>): string[] {
  return Object.keys(mapped).filter((field) => !valuesEqual(types.get(field) ?? 'text', mapped[field] ?? null, existing[field] ?? null))
}

/**
 * Compare one sync's source and destination. Throws a SynclineError for a
 * sync that cannot be compared (config: unknown entity, a connector that
 * cannot scan in key order, a two-way mapping the entities do not fit);
 * resolves with the differences otherwise.
 * @example const r = await verifySync({ plan, index: 0, source, destination }); if (!r.inStep) console.log(r.samples.changed)
 */
export async function verifySync(target: VerifyTarget, opts: VerifyOptions = {}): Promise<VerifyResult> {
  const started = Date.now()
  const { plan } = target
  const comparable = plan.direction === 'two-way' ? await twoWayComparable(target, opts) : plan
  requireOrderedKeyScan(plan.id, 'verify', [
    { role: 'source', connector: target.source },
    { role: 'destination', connector: target.destination },
  ])
  // dryRun: a missing destination is compared as empty, never created.
  const prepared = await prepareSync(comparable, target.index, target.source, target.destination, { dryRun: true, signal: opts.signal })
  const tally = new VerifyTally()
  const counts = emptyCounts()
  // A dry-run writer never writes; rows that fail to map reach onRejected, counted here instead of saved.
  const writer = new BatchWriter({
    destination: prepared.destination,
    entity: prepared.destinationEntity.name,
    keys: prepared.destinationKeys,
    syncId: plan.id,
    runId: 'verify',
    counts,
    maxErrors: Number.POSITIVE_INFINITY,
    dryRun: true,
    signal: opts.signal,
    onRejected: async (entries) => entries.forEach((e) => tally.addFailed(e.recordId)),
  })
  const ctx: CompareContext = { prepared, counts, writer, deletes: comparable.deletes === 'ignore' ? 'ignore' : 'propagate', signal: opts.signal }
  await compareRows(ctx, tally)
  const r = tally.result
  return { id: plan.id, direction: plan.direction, inStep: r.missing + r.extra + r.changed + r.failed === 0, ...r, durationMs: Date.now() - started }
}

/**
 * The one-way full sync whose comparison answers "are both sides of this
 * two-way sync in step" (docs/two-way.md, "Verify"): both hold the same keys
 * and agree on every compared field, the fields mapped both ways except the
 * cursors (each side stamps its own) and one-way fields (written forward
 * only, so the destination's may lag on purpose). A row on one side only is
 * a difference whatever `deletes:` says: which side a run gives it to is the
 * base's call, and verify never reads the state.
 */
async function twoWayComparable(target: VerifyTarget, opts: VerifyOptions): Promise<SyncPlan> {
  const prepared = await prepareSync(target.plan, target.index, target.source, target.destination, { dryRun: true, signal: opts.signal })
  const compared = new Set([...prepared.destinationKeys, ...twoWayMapping(prepared, target.index).compared.names])
  const fields = prepared.mapper.fields.filter((f) => compared.has(f.destination)).map((f) => ({ source: f.source!, destination: f.destination }))
  const comparable: SyncPlan = {
    ...target.plan,
    direction: 'one-way',
    mode: 'full',
    deletes: 'propagate',
    keys: prepared.keys,
    mapping: { auto: false, exclude: [], fields },
  }
  delete comparable.cursor
  delete comparable.destinationCursor
  delete comparable.softDelete
  return comparable
}

/**
 * Compare every key of the sync, feeding the tally: by key-range checksums
 * where both sides can (only keys in differing ranges are merged; the rest
 * count as compared), else row by row.
 */
async function compareRows(ctx: CompareContext, tally: VerifyTally): Promise<void> {
  const p = ctx.prepared
  const types = destinationTypes(p)
  const checksums = checksumComparison(ctx)
  let chunks = mergeWithDestination(ctx)
  if (typeof checksums !== 'string') {
    chunks = differingSteps(ctx, checksums, p.plan.batchSize, (rows) => (tally.result.compared += rows))
  }
  for await (const chunk of chunks) {
    throwIfAborted(ctx.signal)
    for (const step of chunk) tally.add(await operationFor(ctx, step, types), step.right, types, step.left)
  }
}
