/**
 * Hard deletes without change capture: merge the source's keys with the
 * destination's keys (both key-ordered, keys only) and delete what the
 * source no longer has. Memory is bounded by the batch size.
 *
 * The same merge shows the opposite loss: a source key the destination
 * lacks. For an incremental sync that is a row the watermark says was
 * delivered but the destination lost (deleted there, or hidden from the row
 * count by rows another writer added); with `repairMissing` those rows are
 * read from the source by key and written again.
 */
import { keyOf } from '../connectors/connector.js'
import type { KeyValues } from '../values/canonical.js'
import { recordId, type Operation } from './batch-writer.js'
import { isSoftDeleted, mapRow, report, requireKeyOrder, type RunContext } from './run-context.js'
import { sortedMerge } from './sorted-merge.js'
import { keyPageSize } from './key-page.js'

/** Options of {@link reconcileDeletes}. */
export interface ReconcileOptions {
  /** Also copy source rows whose key is missing at the destination (incremental syncs). Default false. */
  repairMissing?: boolean
}

/** Delete destination rows whose key is gone from the source (or soft-deleted there). */
export async function reconcileDeletes(ctx: RunContext, opts: ReconcileOptions = {}): Promise<void> {
  const p = ctx.prepared
  if (!p.destinationExists) return
  requireKeyOrder(ctx, 'the delete reconciliation pass (deletes: propagate)')
  const { batchSize } = p.plan
  const page = keyPageSize(batchSize)
  const softDelete = p.plan.softDelete
  const sourceFields = softDelete === undefined ? p.keys : [...p.keys, softDelete]
  const steps = sortedMerge(
    { rows: p.source.scan(p.sourceEntity.name, { fields: sourceFields, keys: p.keys, filters: p.filters, batchSize: page, signal: ctx.signal }), keys: p.keys, label: `source ${p.source.name}.${p.sourceEntity.name}` },
    { rows: p.destination.scan(p.destinationEntity.name, { fields: p.destinationKeys, keys: p.destinationKeys, batchSize: page, signal: ctx.signal }), keys: p.destinationKeys, label: `destination ${p.destination.name}.${p.destinationEntity.name}` },
    p.keyTypes,
    page,
  )
  let compared = 0
  let repaired = 0
  // Deletes and repairs gather across pages and go out `batchSize` at a time.
  let operations: Operation[] = []
  let missing: KeyValues[] = []
  const takeBatch = async (): Promise<Operation[]> => {
    const batch = operations
    if (missing.length > 0) {
      const creates = await missingRows(ctx, missing)
      repaired += creates.length
      batch.push(...creates)
    }
    operations = []
    missing = []
    return batch
  }
  for await (const chunk of steps) {
    for (const { left, right } of chunk) {
      compared++
      if (right === undefined) {
        if (opts.repairMissing && left !== undefined && !isSoftDeleted(ctx, left)) {
          const key = keyOf(left, p.keys)
          // Rejected earlier in this run: trying again would only reject it twice.
          if (!ctx.writer.rejectedIds.has(recordId(key))) missing.push(key)
        }
        continue
      }
      if (left === undefined || isSoftDeleted(ctx, left)) operations.push({ kind: 'delete', key: keyOf(right, p.destinationKeys) })
    }
    // An empty submit still gives the event loop its turn per page (signals, timers).
    await ctx.pipeline.submit(operations.length + missing.length >= batchSize ? await takeBatch() : [])
    report(ctx, 'deletes', compared, undefined, `${compared} keys reconciled`)
  }
  if (operations.length + missing.length > 0) await ctx.pipeline.submit(await takeBatch())
  await ctx.pipeline.drain()
  if (repaired > 0) {
    ctx.notes.push(
      `${repaired} source row(s) were missing at the destination ${p.destination.name}.${p.destinationEntity.name} though earlier runs had delivered them (found by the key pass); ${ctx.dryRun ? 'a real run would copy them again' : 'they were copied again'}.`,
    )
  }
}

/** The source rows of keys the destination lacks, as creates. */
async function missingRows(ctx: RunContext, keys: KeyValues[]): Promise<Operation[]> {
  const p = ctx.prepared
  const rows = await p.source.lookup(p.sourceEntity.name, p.keys, keys, p.mapper.sourceFields, { signal: ctx.signal })
  const creates: Operation[] = []
  for (const row of rows) {
    // Changed since the key scan: soft-deleted now, so nothing to restore.
    if (isSoftDeleted(ctx, row)) continue
    const mapped = await mapRow(ctx, row, 'create')
    if (mapped !== undefined) creates.push({ kind: 'create', row: mapped, key: keyOf(mapped, p.destinationKeys) })
  }
  return creates
}
