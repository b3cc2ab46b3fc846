/**
 * Everything a run needs about one sync, resolved against the live
 * datasources once: entities, keys, the record mapper, filters.
 */
import type { Connector, Filter } from '../connectors/connector.js'
import { PlanError, SynclineError, throwIfAborted, withCreateHint, type PlanIssue } from '../errors.js'
import { createRecordMapper, sideLabels, type RecordMapper } from '../mapping/record-mapper.js'
import { resolveFilters } from '../mapping/filters.js'
import { cursorSpellingProblem } from '../plan/cursor-spellings.js'
import { sameTableProblem } from '../plan/same-table.js'
import type { SyncPlan } from '../plan/schema.js'
import type { SyncFacts } from '../state/state-store.js'
import type { CanonicalType, EntityInfo, FieldInfo } from '../values/canonical.js'
import { createdBySyncline, resolveSchemaDrift, type DriftResolution } from './schema-drift.js'

/** A sync resolved against its datasources. */
export interface PreparedSync {
  plan: SyncPlan
  source: Connector
  destination: Connector
  sourceEntity: EntityInfo
  /** The destination as it is, or as it will be created. */
  destinationEntity: EntityInfo
  /** False when the destination does not exist yet (created on the first write). */
  destinationExists: boolean
  /**
   * True when the destination did not exist as this run began: created by
   * it (`create: true`), or, in a dry run, to be created. A sync with a
   * watermark then knows the destination lost what earlier runs delivered.
   */
  destinationCreated: boolean
  /** Source key fields. */
  keys: string[]
  /** Destination key fields, in the same order. */
  destinationKeys: string[]
  /** Canonical types of the destination key fields, for the merge order. */
  keyTypes: CanonicalType[]
  mapper: RecordMapper
  filters: Filter[]
  /** Canonical type of the cursor field, when the sync has one. */
  cursorType?: CanonicalType
  /** What the run output should tell the user about preparing (fields created as text). */
  notes: string[]
  /** Syncline created the destination, on this run or an earlier one (kept in the facts: the drift default). */
  createdBySyncline: boolean
  /** What the schema drift policy did: fields added to the destination, notes for the run. */
  drift: DriftResolution
}

/** The destination as `create: true` would make it. */
function plannedDestination(name: string, mapper: RecordMapper): EntityInfo {
  const fields: FieldInfo[] = mapper.fields.map((f) => {
    const field: FieldInfo = { name: f.destination, type: f.type, nativeType: f.type, nullable: f.nullable && !mapper.destinationKeys.includes(f.destination) }
    if (f.maxLength !== undefined) field.maxLength = f.maxLength
    if (f.precision !== undefined) field.precision = f.precision
    if (f.scale !== undefined) field.scale = f.scale
    if (f.bits !== undefined) field.bits = f.bits
    if (f.unsigned !== undefined) field.unsigned = f.unsigned
    if (f.jsonText !== undefined) field.jsonText = f.jsonText
    if (f.autoIncrement !== undefined) field.autoIncrement = f.autoIncrement
    if (f.elementType !== undefined) field.elementType = f.elementType
    if (f.enumValues !== undefined) field.enumValues = f.enumValues
    return field
  })
  return { name, fields, primaryKey: [...mapper.destinationKeys], uniqueKeys: [], foreignKeys: [] }
}

/** Options of {@link prepareSync}. */
export interface PrepareOptions {
  dryRun?: boolean
  signal?: AbortSignal
  /** What the last successful run delivered: fields added or gone since are schema drift (the plan's `schema` policy). */
  facts?: SyncFacts
}

/**
 * Resolve a sync. With `create` (and not a dry run) a missing destination is
 * created here. Problems become a PlanError whose paths start with `syncs[index]`;
 * a mapped source field gone since the last run, a `SCHEMA_DRIFT` error.
 */
export async function prepareSync(plan: SyncPlan, index: number, source: Connector, destination: Connector, opts: PrepareOptions = {}): Promise<PreparedSync> {
  const at = `syncs[${index}]`
  // Both sides at once (each a few round trips to its database); the source's error first when both fail.
  const [described, discovered] = await Promise.allSettled([source.describe(plan.source.entity), destination.discover(plan.destination.entity)])
  if (described.status === 'rejected') throw withPath(described.reason, `${at}.source.entity`)
  if (discovered.status === 'rejected') throw discovered.reason
  const sourceEntity = described.value
  const found = discovered.value
  let destinationEntity: EntityInfo | undefined = found[0]
  if (!destinationEntity && !plan.destination.create) {
    // describe() words the not-found error with a suggestion.
    await destination.describe(plan.destination.entity).catch((error: unknown) => {
      throw withPath(error, `${at}.destination.entity`, withCreateHint)
    })
  }

  if (destinationEntity) {
    // Before anything is written: a destination that is the source itself must never be touched.
    const signal = { signal: opts.signal }
    const identities = await Promise.all([source.physicalIdentity?.(plan.source.entity, signal), destination.physicalIdentity?.(plan.destination.entity, signal)])
    const problem = sameTableProblem(plan, ...identities)
    if (problem) throw new PlanError([{ path: `${at}.destination`, message: problem }])
  }

  // Before mapping: a vanished field must be named as such, not as an unknown one.
  const drift = resolveSchemaDrift(plan, opts.facts, sourceEntity, destinationEntity, {
    createdNow: !destinationEntity,
    canAddFields: destination.addFields !== undefined,
    dryRun: opts.dryRun ?? false,
  })
  // A dry run maps against the table as it is: the fields it would add are not there to compare with.
  if (destinationEntity && drift.addFields.length > 0 && !opts.dryRun) {
    throwIfAborted(opts.signal)
    await destination.addFields!(plan.destination.entity, drift.addFields)
    destinationEntity = await destination.describe(plan.destination.entity)
  }

  const keys = plan.keys ?? sourceEntity.primaryKey
  if (keys.length === 0) {
    throw new PlanError([{ path: `${at}.keys`, message: `${sourceEntity.name} has no primary key; set keys to the field(s) that identify a row` }])
  }
  const extra = [plan.cursor, plan.softDelete].filter((f): f is string => f !== undefined)
  const issues: PlanIssue[] = []
  const sourceNames = new Set(sourceEntity.fields.map((f) => f.name))
  for (const [name, path] of [[plan.cursor, 'cursor'], [plan.softDelete, 'softDelete']] as const) {
    if (name !== undefined && !sourceNames.has(name)) issues.push({ path: `${at}.${path}`, message: `unknown field '${name}' in ${sourceEntity.name}` })
  }
  if (issues.length > 0) throw new PlanError(issues)

  let mapper: RecordMapper
  let filters: Filter[]
  try {
    mapper = createRecordMapper({ mapping: plan.mapping, keys, source: sourceEntity, destination: destinationEntity, extraSourceFields: extra, labels: sideLabels(plan) })
    filters = resolveFilters(plan.filters, sourceEntity)
  } catch (error) {
    throw prefixPaths(error, at)
  }

  const destinationExists = destinationEntity !== undefined
  if (!destinationEntity) {
    const planned = plannedDestination(plan.destination.entity, mapper)
    if (!opts.dryRun) {
      // A run cancelled before it started must not leave a new table behind.
      throwIfAborted(opts.signal)
      await destination.ensureEntity(plan.destination.entity, planned.fields, planned.primaryKey)
      destinationEntity = await destination.describe(plan.destination.entity)
      // Map again against the real table, so values are coerced to the types it got.
      try {
        mapper = createRecordMapper({ mapping: plan.mapping, keys, source: sourceEntity, destination: destinationEntity, extraSourceFields: extra, labels: sideLabels(plan) })
      } catch (error) {
        throw prefixPaths(error, at)
      }
    } else {
      destinationEntity = planned
    }
  }

  const destinationTypes = new Map(destinationEntity.fields.map((f) => [f.name, f.type]))
  const keyTypes = mapper.destinationKeys.map((k) => destinationTypes.get(k) ?? 'text')
  // Keys of both sides ordering alike is checked by the record mapper.

  const prepared: PreparedSync = {
    plan,
    source,
    destination,
    sourceEntity,
    destinationEntity,
    destinationExists: destinationExists || !opts.dryRun,
    destinationCreated: !destinationExists,
    keys: [...keys],
    destinationKeys: mapper.destinationKeys,
    keyTypes,
    mapper,
    filters,
    notes: destinationExists ? [] : createdAsText(mapper, sourceEntity, plan.destination.entity, opts.dryRun === true),
    createdBySyncline: !destinationExists || createdBySyncline(plan, opts.facts),
    drift,
  }
  if (plan.cursor !== undefined) prepared.cursorType = sourceEntity.fields.find((f) => f.name === plan.cursor)?.type
  await refuseMixedTimestampCursor(prepared, at, opts.signal)
  return prepared
}

/**
 * Notes for the source fields of a created destination whose native type has
 * no canonical counterpart (tsvector, geometry…): their columns hold the
 * text form, which the user should know before relying on the new table.
 */
function createdAsText(mapper: RecordMapper, source: EntityInfo, destination: string, dryRun: boolean): string[] {
  const byName = new Map(source.fields.map((f) => [f.name, f]))
  const verb = dryRun ? 'would be' : 'was'
  return mapper.fields.flatMap((f) => {
    const field = f.source !== undefined && f.transform === undefined ? byName.get(f.source) : undefined
    if (field?.nativeAsText !== true) return []
    return [`field '${field.name}' (${field.nativeType}) has no canonical type: it is copied as text, and ${destination}.${f.destination} ${verb} created as a ${f.type} column`]
  })
}

/** A text cursor holding timestamps in several spellings would skip rows: refuse it (src/plan/cursor-spellings.ts). */
async function refuseMixedTimestampCursor(prepared: PreparedSync, at: string, signal: AbortSignal | undefined): Promise<void> {
  const { plan, source, sourceEntity } = prepared
  const cursor = sourceEntity.fields.find((f) => f.name === plan.cursor)
  if (plan.mode !== 'incremental' || cursor?.type !== 'text' || !source.timestampSpellings) return
  const found = await source.timestampSpellings(sourceEntity.name, cursor.name, { signal })
  if (found) throw new PlanError([{ path: `${at}.cursor`, message: cursorSpellingProblem(cursor, found) }])
}

/** Attach a plan path to a not-found error so the user sees where it came from. */
function withPath(error: unknown, path: string, word: (message: string) => string = (m) => m): unknown {
  if (error instanceof SynclineError && error.code === 'ENTITY_NOT_FOUND') {
    return new PlanError([{ path, message: word(error.message) }], { code: 'ENTITY_NOT_FOUND', cause: error })
  }
  return error
}

/** Mapping errors come with paths relative to the sync; make them absolute. */
function prefixPaths(error: unknown, at: string): unknown {
  if (error instanceof PlanError) {
    return new PlanError(
      error.issues.map((i) => ({ path: i.path ? `${at}.${i.path}` : at, message: i.message })),
      { code: error.code, cause: error },
    )
  }
  return error
}
