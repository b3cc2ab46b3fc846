/**
 * Hard deletes without change capture: merge the source's keys with the
 * destination's keys (both key-ordered, keys only) and delete what the
 * source no longer has. Memory is bounded by the batch size.
 */
import { keyOf } from '../connectors/connector.js'
import type { Operation } from './batch-writer.js'
import { isSoftDeleted, report, type RunContext } from './run-context.js'
import { sortedMerge } from './sorted-merge.js'

/** Delete destination rows whose key is gone from the source (or soft-deleted there). */
export async function reconcileDeletes(ctx: RunContext): Promise<void> {
  const p = ctx.prepared
  if (!p.destinationExists) return
  const { batchSize } = p.plan
  const softDelete = p.plan.softDelete
  const sourceFields = softDelete === undefined ? p.keys : [...p.keys, softDelete]
  const steps = sortedMerge(
    { rows: p.source.scan(p.sourceEntity.name, { fields: sourceFields, keys: p.keys, filters: p.filters, batchSize, signal: ctx.signal }), keys: p.keys, label: `source ${p.source.name}.${p.sourceEntity.name}` },
    { rows: p.destination.scan(p.destinationEntity.name, { fields: p.destinationKeys, keys: p.destinationKeys, batchSize, signal: ctx.signal }), keys: p.destinationKeys, label: `destination ${p.destination.name}.${p.destinationEntity.name}` },
    p.keyTypes,
    batchSize,
  )
  let compared = 0
  for await (const chunk of steps) {
    const operations: Operation[] = []
    for (const { left, right } of chunk) {
      compared++
      if (right === undefined) continue
      if (left === undefined || isSoftDeleted(ctx, left)) operations.push({ kind: 'delete', key: keyOf(right, p.destinationKeys) })
    }
    await ctx.pipeline.submit(operations)
    report(ctx, 'deletes', compared, undefined, `${compared} keys reconciled`)
  }
  await ctx.pipeline.drain()
}
