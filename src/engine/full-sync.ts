/**
 * Full sync: scan both sides in key order, merge, and write only what differs
 * (DESIGN §3). Memory is bounded by the batch size, never by the table.
 */
import { setImmediate as nextTurn } from 'node:timers/promises'
import { keyOf } from '../connectors/connector.js'
import type { CanonicalType, Row } from '../values/canonical.js'
import type { Operation } from './batch-writer.js'
import { tryBulkCopy } from './bulk-copy.js'
import { checksumCandidate, checksumComparison, descentLimits, destinationHasRows, differingSteps, type SeenRows } from './checksum-descent.js'
import { laterWatermark, type WatermarkTracker } from './watermark.js'
import { destinationFields, destinationRowsAtStart, destinationTypes, diffRow, isSoftDeleted, mapRow, report, requireKeyOrder, type CompareContext, type RunContext } from './run-context.js'
import { sortedMerge, type MergeStep } from './sorted-merge.js'
import { keyPageSize, writeSize } from './key-page.js'

async function* nothing(): AsyncGenerator<Row[]> {}

/** Source rows a caller already has (a change feed's snapshot) instead of a scan. */
export interface SnapshotSource {
  rows: AsyncIterable<Row[]>
  /**
   * False when this run may have written to the destination already (a
   * realtime sync repairing a lost position): the destination's row count
   * at the start no longer says it is empty.
   */
  mayBeEmpty: boolean
}

/**
 * Run a full merge. With a tracker, the highest `(cursor, key)` read is kept
 * in it, so an incremental sync can continue from there after `run --full`.
 * With `snapshot` (a realtime sync's feed snapshot, filtered and in key
 * order) its rows are compared instead of a scan of the source.
 */
export async function fullSync(ctx: RunContext, tracker?: WatermarkTracker, snapshot?: SnapshotSource): Promise<void> {
  requireKeyOrder(ctx, 'a full sync')
  const p = ctx.prepared
  const obstacles = { tracksWatermark: tracker !== undefined, snapshot: snapshot !== undefined }
  // A table compared by checksums reads no more rows than differ: its source count would only feed
  // progress, at the price of a pass over the table (taken only if the destination turns out empty).
  const countSource = () => p.source.count(p.sourceEntity.name, p.filters)
  const candidate = p.destinationExists ? checksumCandidate(ctx, obstacles) : 'no destination'
  const byChecksums = typeof candidate !== 'string'
  // The comparison by checksums counts the destination's rows as it reads them (`seen`, kept for the
  // run's facts): a count(*) first would be one more pass over the destination before anything else.
  // Both counts at once otherwise: each is a pass over its table.
  const seen: SeenRows = {}
  const [counted, destinationRows] = byChecksums
    ? [undefined, (await destinationHasRows(candidate)) ? undefined : 0]
    : await Promise.all([countSource(), destinationRowsAtStart(ctx)])
  if (destinationRows === 0) ctx.startRows ??= { rows: 0 }
  const total = destinationRows === 0 && byChecksums ? await countSource() : counted
  // An empty destination takes only creates: let the sink use its bulk path.
  ctx.writer.allNew = destinationRows === 0 && (snapshot?.mayBeEmpty ?? true)
  report(ctx, 'copy', 0, total, `Comparing ${p.sourceEntity.name} with ${p.destinationEntity.name}`)
  // A first copy into an empty table may skip decoding altogether.
  // (Not a snapshot: the bulk path reads the source itself, outside the feed's snapshot.)
  if (destinationRows === 0 && snapshot === undefined && (await tryBulkCopy(ctx, total, tracker))) return

  const types = destinationTypes(p)
  // A destination holding rows is compared range by range first where both sides can checksum.
  const checksums = destinationRows !== 0 ? checksumComparison(ctx, obstacles) : undefined
  const chunks =
    checksums !== undefined && typeof checksums !== 'string'
      ? differingSteps(ctx, checksums, p.plan.batchSize, undefined, seen)
      : mergeWithDestination(ctx, snapshot?.rows)
  // Differing rows found by checksums come a lookup at a time while the streams go on: written as they
  // come, the writes overlap the streams instead of all waiting for their end.
  const batchSize = checksums !== undefined && typeof checksums !== 'string' ? Math.min(p.plan.batchSize, descentLimits.lookupRows) : writeSize(p.plan.batchSize, ctx.writer.allNew)
  // Pages are small (see mergeWithDestination); writes gather across them and go out `writeSize` at a time.
  const operations: Operation[] = []
  for await (const chunk of chunks) {
    for (const step of chunk) {
      const op = await operationFor(ctx, step, types, tracker)
      if (op) operations.push(op)
    }
    // A page without a full batch still gives the event loop its turn (signals, timers), without waiting for the write in flight.
    if (operations.length < batchSize) await nextTurn()
    while (operations.length >= batchSize) await ctx.pipeline.submit(operations.splice(0, batchSize))
    report(ctx, 'copy', ctx.counts.read, total, `${ctx.counts.read} rows compared`)
  }
  if (operations.length > 0) await ctx.pipeline.submit(operations)
  await ctx.pipeline.drain()
  // Unknown only when the comparison could not count them: the facts then go without a row count.
  ctx.startRows ??= { rows: seen.destinationRows }
}

/**
 * The source (filtered, or the given rows) and the destination, both in key
 * order, merged into steps of one key each, read and chunked in pages of
 * at most 2,000 rows ({@link keyPageSize}: larger pages outlive young GCs
 * and fill the old generation with dead rows). Shared by {@link fullSync}
 * and `verify`, so both pair the same rows.
 */
export function mergeWithDestination(ctx: CompareContext, sourceRows?: AsyncIterable<Row[]>): AsyncGenerator<MergeStep[]> {
  const p = ctx.prepared
  const batchSize = keyPageSize(p.plan.batchSize)
  const signal = ctx.signal
  const source = sourceRows ?? p.source.scan(p.sourceEntity.name, { fields: p.mapper.sourceFields, keys: p.keys, filters: p.filters, batchSize, signal })
  const destination = p.destinationExists
    ? p.destination.scan(p.destinationEntity.name, { fields: destinationFields(p), keys: p.destinationKeys, batchSize, signal })
    : nothing()
  return sortedMerge(
    { rows: source, keys: p.keys, label: `source ${p.source.name}.${p.sourceEntity.name}` },
    { rows: destination, keys: p.destinationKeys, label: `destination ${p.destination.name}.${p.destinationEntity.name}` },
    p.keyTypes,
    batchSize,
  )
}

/**
 * What a full sync does about one merged key: the operation it makes, or
 * undefined (unchanged, a destination-only row kept by `deletes: ignore`,
 * or a source row that failed to map, recorded through the run's writer).
 * Counts source rows read and unchanged in `ctx.counts`.
 */
export async function operationFor(ctx: CompareContext, { left, right }: MergeStep, types: ReadonlyMap<string, CanonicalType>, tracker?: WatermarkTracker): Promise<Operation | undefined> {
  const p = ctx.prepared
  if (left === undefined) {
    return ctx.deletes === 'propagate' && right !== undefined ? { kind: 'delete', key: keyOf(right, p.destinationKeys) } : undefined
  }
  ctx.counts.read++
  if (isSoftDeleted(ctx, left)) return right !== undefined ? { kind: 'delete', key: keyOf(right, p.destinationKeys) } : undefined
  if (tracker) laterWatermark(tracker, left)
  const mapped = await mapRow(ctx, left, right === undefined ? 'create' : 'update')
  if (mapped === undefined) return undefined
  return diffRow(ctx, mapped, right, types)
}
