/**
 * Source fields that disappeared since the last successful run. A field an
 * earlier run wrote to the destination, renamed or dropped at the source,
 * would otherwise drop out of the mapping without a word and leave its
 * destination field stale (auto-map simply no longer finds it). This is the
 * check the plan's drift policy (`schema: evolve | ignore | fail`) builds on;
 * until that exists, drift always fails the run.
 */
import { SynclineError } from '../errors.js'
import { autoMap } from '../mapping/auto-map.js'
import type { SyncPlan } from '../plan/schema.js'
import type { MappedFieldPair, SyncFacts } from '../state/state-store.js'
import type { EntityInfo } from '../values/canonical.js'

/**
 * The mapped fields of the last run whose source field is gone, while the
 * destination field it fed is still there and the plan maps nothing else
 * to it. Facts about another source entity (the plan now reads a different
 * one) say nothing about this one.
 */
export function vanishedFields(plan: SyncPlan, facts: SyncFacts | undefined, source: EntityInfo, destination: EntityInfo | undefined): MappedFieldPair[] {
  if (!facts || !destination) return []
  if (facts.source.connection !== plan.source.connection || facts.source.entity !== plan.source.entity) return []
  const sourceNames = new Set(source.fields.map((f) => f.name))
  const destinationNames = new Set(destination.fields.map((f) => f.name))
  // Fed again by the plan as it is now: an explicit field (one still naming
  // the vanished source resolves nothing), or auto-map (a rename by case only).
  const mappedNow = new Set(plan.mapping.fields.filter((f) => f.source === undefined || sourceNames.has(f.source)).map((f) => f.destination))
  if (plan.mapping.auto) for (const pair of autoMap(source.fields, destination.fields, { exclude: plan.mapping.exclude })) mappedNow.add(pair.destination)
  // Would the plan still map it, were it there? Otherwise the plan dropped it, not the source.
  const planMaps = (name: string) => plan.mapping.auto || plan.mapping.fields.some((f) => f.source === name)
  return facts.mappedFields.filter((f) => !sourceNames.has(f.source) && destinationNames.has(f.destination) && !mappedNow.has(f.destination) && planMaps(f.source))
}

/**
 * Throw `SCHEMA_DRIFT` (failure `config`: the plan must say what to do) when
 * a source field the last run mapped has disappeared; see {@link vanishedFields}.
 * The message names each field, both entities and the fix, suggesting the
 * new source field when exactly one appeared since.
 */
export function checkSchemaDrift(plan: SyncPlan, facts: SyncFacts | undefined, source: EntityInfo, destination: EntityInfo | undefined): void {
  const gone = vanishedFields(plan, facts, source, destination)
  if (gone.length === 0 || !facts) return
  const known = new Set(facts.sourceFields)
  const added = source.fields.map((f) => f.name).filter((name) => !known.has(name))
  const newName = added.length === 1 ? added[0]! : '<new name>'
  const lines = gone.map(
    (f) =>
      `source field '${f.source}' is gone from ${plan.source.connection}.${source.name}; earlier runs wrote it to destination field '${f.destination}' of ${plan.destination.connection}.${destination!.name}, which would go stale.`,
  )
  const example = gone.map((f) => `{ source: ${newName}, destination: ${f.destination} }`).join(', ')
  const appeared = added.length > 0 ? ` New source field(s) since the last run: ${added.map((n) => `'${n}'`).join(', ')}.` : ''
  throw new SynclineError(
    'SCHEMA_DRIFT',
    'config',
    `Sync '${plan.id}': ${lines.join('\n')}\n` +
      `If it was renamed, map the new name under mapping.fields: ${example}.${appeared} ` +
      `If it was dropped, drop the destination field too, or map it explicitly under mapping.fields (e.g. with a transform).`,
    { details: { syncId: plan.id, entity: source.name, fields: gone } },
  )
}
