/**
 * Turning a source change batch into destination operations, with the same
 * rules as the other modes: the plan's mapping and transforms, its filters
 * (a row that stops matching is deleted at the destination), its soft-delete
 * field, and `deletes: ignore`.
 */
import { keyOf } from '../connectors/connector.js'
import type { SourceChange } from '../connectors/change-feed.js'
import { matchesFilters } from '../mapping/filters.js'
import { coerceValue } from '../mapping/coerce.js'
import type { CanonicalType, KeyValues } from '../values/canonical.js'
import { recordId } from '../values/record-id.js'
import type { Operation } from './batch-writer.js'
import type { PreparedSync } from './prepare-sync.js'
import { isSoftDeleted, mapRow, type RunContext } from './run-context.js'

/** What {@link changeOperations} needs besides the run: computed once per run. */
export interface ChangeMapping {
  /** Source field types, for evaluating filters on canonical values. */
  sourceTypes: ReadonlyMap<string, CanonicalType>
  /** The source key as the destination key (values converted to the destination key fields' types). */
  destinationKey(sourceKey: KeyValues): KeyValues
}

/** Prepare the per-run parts of change mapping. */
export function changeMapping(p: PreparedSync): ChangeMapping {
  const sourceTypes = new Map(p.sourceEntity.fields.map((f) => [f.name, f.type]))
  // A delete carries only the source key: convert each value as the mapper would.
  const converters = p.destinationKeys.map((name) => {
    const field = p.mapper.fields.find((f) => f.destination === name)
    if (!field || field.sourceType === field.type) return (value: KeyValues[number]) => value
    return (value: KeyValues[number]) => coerceValue(value, field.sourceType, field.type, name)
  })
  return { sourceTypes, destinationKey: (key) => key.map((value, i) => converters[i]!(value)) }
}

/**
 * The destination operations for a batch of source changes, at most one per
 * destination key (the last change of a key wins), so one apply never
 * touches a row twice. Changes that fail to map are recorded as rejected
 * (within the plan's `maxErrors`, past it this throws) and leave that key's
 * earlier operation in the batch as it was.
 */
export async function changeOperations(ctx: RunContext, mapping: ChangeMapping, changes: readonly SourceChange[]): Promise<Operation[]> {
  const p = ctx.prepared
  const byKey = new Map<string, Operation>()
  const put = (op: Operation) => {
    const id = recordId(op.key)
    // Re-inserting moves the key to the end: operations stay in change order.
    byKey.delete(id)
    byKey.set(id, op)
  }
  const remove = (sourceKey: KeyValues) => {
    const key = mapping.destinationKey(sourceKey)
    put({ kind: 'delete', key })
  }
  for (const change of changes) {
    ctx.counts.read++
    if (change.previousKey) remove(change.previousKey)
    const record = change.record
    if (change.type === 'delete' || record === undefined) {
      if (ctx.deletes !== 'ignore') remove(change.key)
      continue
    }
    if (!matchesFilters(record, p.filters, mapping.sourceTypes) || isSoftDeleted(ctx, record)) {
      // Not matching before either: it was never at the destination.
      const before = change.before
      if (change.type === 'update' && before !== undefined && !change.previousKey && (!matchesFilters(before, p.filters, mapping.sourceTypes) || isSoftDeleted(ctx, before))) continue
      if (change.type !== 'create') remove(change.key)
      continue
    }
    const mapped = await mapRow(ctx, record, change.type)
    if (mapped === undefined) continue
    put({ kind: change.type, row: mapped, key: keyOf(mapped, p.destinationKeys) })
  }
  return [...byKey.values()]
}
