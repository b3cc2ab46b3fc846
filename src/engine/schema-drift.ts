/**
 * Source fields that disappeared since the last successful run. A field an
 * earlier run wrote to the destination, renamed or dropped at the source,
 * would otherwise drop out of the mapping without a word and leave its
 * destination field stale (auto-map simply no longer finds it). This is the
 * check the plan's drift policy (`schema: evolve | ignore | fail`) builds on:
 * {@link resolveSchemaDrift} decides, for the fields added and vanished
 * since the last run, what this run does (docs/plan-and-cli.md "Decisions").
 */
import { SynclineError } from '../errors.js'
import { autoMap } from '../mapping/auto-map.js'
import type { DriftPolicy, SyncPlan } from '../plan/schema.js'
import type { MappedFieldPair, SyncFacts } from '../state/state-store.js'
import type { EntityInfo, FieldInfo } from '../values/canonical.js'

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
  throwVanished(plan, facts, gone, source, destination!, '')
}

function throwVanished(plan: SyncPlan, facts: SyncFacts, gone: MappedFieldPair[], source: EntityInfo, destination: EntityInfo, why: string): never {
  const known = new Set(facts.sourceFields)
  const added = source.fields.map((f) => f.name).filter((name) => !known.has(name))
  const newName = added.length === 1 ? added[0]! : '<new name>'
  const lines = gone.map(
    (f) =>
      `source field '${f.source}' is gone from ${plan.source.connection}.${source.name}; earlier runs wrote it to destination field '${f.destination}' of ${plan.destination.connection}.${destination.name}, which would go stale.`,
  )
  const example = gone.map((f) => `{ source: ${newName}, destination: ${f.destination} }`).join(', ')
  const appeared = added.length > 0 ? ` New source field(s) since the last run: ${added.map((n) => `'${n}'`).join(', ')}.` : ''
  throw new SynclineError(
    'SCHEMA_DRIFT',
    'config',
    `Sync '${plan.id}': ${lines.join('\n')}\n` +
      `If it was renamed, map the new name under mapping.fields: ${example}.${appeared} ` +
      `If it was dropped, drop the destination field too, or map it explicitly under mapping.fields (e.g. with a transform), ` +
      `or add \`schema: ignore\` to the sync to leave the destination field as it is.${why}`,
    { details: { syncId: plan.id, entity: source.name, fields: gone } },
  )
}

/** What the drift policy decided for this run. */
export interface DriftResolution {
  policy: DriftPolicy
  /** New source fields to add to the destination (nullable) and map (`evolve`). */
  addFields: FieldInfo[]
  /** Sentences for the run's notes: what was left out or left as it is. */
  notes: string[]
}

/**
 * The sync's drift policy: the plan's `schema`, else `evolve` when syncline
 * created the destination (now, or on a run recorded in the facts), else `fail`.
 */
export function driftPolicyOf(plan: SyncPlan, facts: SyncFacts | undefined, createdNow: boolean): DriftPolicy {
  if (plan.schema) return plan.schema
  return createdNow || createdBySyncline(plan, facts) ? 'evolve' : 'fail'
}

/** The facts say syncline created this sync's destination as it is named now. */
export function createdBySyncline(plan: SyncPlan, facts: SyncFacts | undefined): boolean {
  return facts?.destinationCreated === true && facts.destination.connection === plan.destination.connection && facts.destination.entity === plan.destination.entity
}

/**
 * Source fields new since the last run that nothing at the destination
 * takes: not in the last run's source fields, not excluded, auto-map finds
 * no destination field for them. Only with `mapping.auto`: an explicit
 * field list is the user's choice of fields, and a new one is not drift.
 */
export function addedFields(plan: SyncPlan, facts: SyncFacts | undefined, source: EntityInfo, destination: EntityInfo | undefined): FieldInfo[] {
  if (!facts || !destination || !plan.mapping.auto) return []
  if (facts.source.connection !== plan.source.connection || facts.source.entity !== plan.source.entity) return []
  const known = new Set(facts.sourceFields)
  const excluded = new Set(plan.mapping.exclude)
  const mapped = new Set(autoMap(source.fields, destination.fields, { exclude: plan.mapping.exclude }).map((p) => p.source))
  for (const f of plan.mapping.fields) if (f.source !== undefined) mapped.add(f.source)
  return source.fields.filter((f) => !known.has(f.name) && !excluded.has(f.name) && !mapped.has(f.name))
}

/**
 * Apply the drift policy to the fields added and vanished since the last
 * run. `fail` throws `SCHEMA_DRIFT` for either. `ignore` leaves added
 * fields out and vanished ones' destination fields as they are (the run
 * never writes them, so never NULLs them), noting both. `evolve` adds the
 * new fields (when the destination can), keeps a dropped field's
 * destination field as it is, and fails on a likely rename (a vanished
 * field and a new one of the same type): following it would leave the old
 * destination field stale and start a second one, so the user says which.
 */
export function resolveSchemaDrift(
  plan: SyncPlan,
  facts: SyncFacts | undefined,
  source: EntityInfo,
  destination: EntityInfo | undefined,
  opts: { createdNow: boolean; canAddFields: boolean; dryRun: boolean },
): DriftResolution {
  const policy = driftPolicyOf(plan, facts, opts.createdNow)
  const resolution: DriftResolution = { policy, addFields: [], notes: [] }
  if (!facts || !destination) return resolution
  const gone = vanishedFields(plan, facts, source, destination)
  const added = addedFields(plan, facts, source, destination)
  if (gone.length === 0 && added.length === 0) return resolution
  const why = plan.schema ? '' : ` (schema: ${policy} is the default for ${policy === 'evolve' ? 'a destination syncline created' : 'an existing destination'})`
  const from = `${plan.source.connection}.${source.name}`
  const to = `${plan.destination.connection}.${destination.name}`
  const names = (fields: readonly { name: string }[]) => fields.map((f) => `'${f.name}'`).join(', ')

  if (policy === 'fail') {
    if (gone.length > 0) throwVanished(plan, facts, gone, source, destination, why)
    throw new SynclineError(
      'SCHEMA_DRIFT',
      'config',
      `Sync '${plan.id}': new source field(s) ${names(added)} in ${from} since the last run, not in ${to}${why}. ` +
        `Add one line to the sync: \`schema: evolve\` (add them to the destination and copy them), \`schema: ignore\` (leave them out) or \`schema: fail\` (stop, as now); ` +
        `or exclude them under mapping.exclude.`,
      { details: { syncId: plan.id, entity: source.name, added: added.map((f) => f.name), policy } },
    )
  }

  const typeAt = new Map(destination.fields.map((f) => [f.name, f.type]))
  if (policy === 'evolve') {
    const renamed = gone.filter((g) => added.some((a) => a.type === typeAt.get(g.destination)))
    if (renamed.length > 0) throwVanished(plan, facts, renamed, source, destination, ` With schema: evolve a likely rename is not followed: say which it is.`)
    if (added.length > 0 && !opts.canAddFields) {
      throw new SynclineError(
        'SCHEMA_DRIFT',
        'config',
        `Sync '${plan.id}': new source field(s) ${names(added)} in ${from}, but ${to} cannot have fields added by syncline${why}. ` +
          `Add them to it yourself, or set \`schema: ignore\` to leave them out.`,
        { details: { syncId: plan.id, entity: source.name, added: added.map((f) => f.name), policy } },
      )
    }
    resolution.addFields = added.map((f) => ({ ...f, nullable: true }))
    if (added.length > 0) resolution.notes.push(`Schema drift (evolve): ${opts.dryRun ? 'a real run would add' : 'added'} field(s) ${names(added)} to ${to}, nullable, and copies them.`)
  } else if (added.length > 0) {
    resolution.notes.push(`Schema drift (ignore): new source field(s) ${names(added)} of ${from} left out; ${to} is not changed.`)
  }
  if (gone.length > 0) {
    const fields = gone.map((g) => `'${g.source}' (destination field '${g.destination}')`).join(', ')
    resolution.notes.push(`Schema drift (${policy}): source field(s) ${fields} gone from ${from}; the destination field(s) are left as they are, never written.`)
  }
  return resolution
}
