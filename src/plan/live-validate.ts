/**
 * `syncline validate --live`: check a plan against the datasources it names.
 * Entities exist, key fields exist and identify one row, mapped and filtered
 * fields exist and transforms parse (through the mapping code the engine uses,
 * so validation and runs agree), cursor and soft-delete fields exist and the
 * cursor's type can be ordered (a text cursor also in one timestamp spelling),
 * and the destination is not the source table under another connection name.
 *
 * Datasource access goes through {@link LiveValidationDeps}, so this module
 * never opens a connection itself.
 */
import type { PhysicalIdentity } from '../connectors/connector.js'
import { PlanError, SynclineError, withCreateHint, type PlanIssue } from '../errors.js'
import { resolveFilters } from '../mapping/filters.js'
import { createRecordMapper, sideLabels } from '../mapping/record-mapper.js'
import { unknownField } from '../mapping/unknown-field.js'
import type { TimestampSpellings } from '../connectors/connector.js'
import type { CanonicalType, EntityInfo } from '../values/canonical.js'
import { cursorSpellingProblem } from './cursor-spellings.js'
import { joinPath } from './path.js'
import { sameTableProblem } from './same-table.js'
import type { Plan, SyncPlan } from './schema.js'

/** What live validation needs from the datasources. */
export interface LiveValidationDeps {
  /** Describe an entity; throws SynclineError `ENTITY_NOT_FOUND` or `CONNECTION_REFUSED` (or another connection failure). */
  describe(connection: string, entity: string): Promise<EntityInfo>
  /** How many rows share a key with another row, if the connector can tell. */
  countDuplicateKeys(connection: string, entity: string, keys: string[]): Promise<number | undefined>
  /** Which physical table an entity is (see `Connector.physicalIdentity`); absent or undefined: unknown. */
  physicalIdentity?(connection: string, entity: string): Promise<PhysicalIdentity | undefined>
  /** Samples of a text field's timestamps in several spellings, if the connector can tell (`Connector.timestampSpellings`). */
  timestampSpellings?(connection: string, entity: string, field: string): Promise<TimestampSpellings | undefined>
  /** Whether a connection's connector captures changes (`capabilities.cdc`), and its kind for messages; absent: not checked. */
  changeCapture?(connection: string): Promise<{ cdc: boolean; kind: string }>
}

/** Canonical types a cursor can be: their values order the way time or a counter does. */
export const ORDERABLE_CURSOR_TYPES: readonly CanonicalType[] = ['integer', 'decimal', 'float', 'timestamp', 'localtimestamp', 'date', 'text']

/** Error codes meaning the datasource, not the entity, is the problem. */
const CONNECTION_CODES = new Set(['CONNECTION_REFUSED', 'CONNECTION_LOST', 'AUTH_FAILED', 'CONNECTION_NOT_FOUND'])

/**
 * Check every sync (or those in `opts.syncIds`) against the live datasources.
 * Returns the problems found, with paths such as `syncs[0].keys`; an empty list means the plan can run.
 * Errors that are not {@link SynclineError}s (bugs) are thrown, not reported.
 * @example
 * const issues = await validatePlanLive(plan, deps)
 * if (issues.length > 0) console.error(formatIssues(issues))
 */
export async function validatePlanLive(plan: Plan, deps: LiveValidationDeps, opts: { syncIds?: string[] } = {}): Promise<PlanIssue[]> {
  const cache = new DescribeCache(deps)
  const issues: PlanIssue[] = []
  for (const [index, sync] of plan.syncs.entries()) {
    if (opts.syncIds && !opts.syncIds.includes(sync.id)) continue
    issues.push(...(await validateSyncLive(sync, `syncs[${index}]`, deps, cache, createdEarlier(plan, index))))
  }
  return issues
}

/**
 * Whether an earlier sync of the plan creates this sync's source
 * (`create: true` on the same connection and entity): a chain such as
 * shop → warehouse → files, whose later links cannot be checked until the
 * first has run.
 */
function createdEarlier(plan: Plan, index: number): boolean {
  const { connection, entity } = plan.syncs[index]!.source
  return plan.syncs.slice(0, index).some((s) => s.destination.create === true && s.destination.connection === connection && s.destination.entity === entity)
}

async function validateSyncLive(sync: SyncPlan, at: string, deps: LiveValidationDeps, cache: DescribeCache, sourceCreatedEarlier: boolean): Promise<PlanIssue[]> {
  const issues: PlanIssue[] = []

  const source = await cache.describe(sync.source.connection, sync.source.entity)
  if (!source.ok && !source.connectionFailed && sourceCreatedEarlier) return issues // checked once the earlier sync has run
  if (!source.ok) {
    issues.push({ path: `${at}.source.${source.connectionFailed ? 'connection' : 'entity'}`, message: source.message })
    return issues // Nothing else can be checked without the source.
  }
  const sourceEntity = source.entity
  if (sync.mode === 'realtime' && deps.changeCapture) {
    const capture = await deps.changeCapture(sync.source.connection)
    // Two-way: a side without change capture is polled by its cursor, so one feed is enough.
    const otherSide = sync.direction === 'two-way' && !capture.cdc ? await deps.changeCapture(sync.destination.connection) : undefined
    if (!capture.cdc && !otherSide?.cdc) {
      issues.push({
        path: `${at}.mode`,
        message: `mode: realtime needs change capture, but the source connection '${sync.source.connection}' (${capture.kind}) has none; use mode: incremental with a cursor (or mode: full), or a source that captures changes (PostgreSQL, MariaDB, SQLite)`,
      })
    }
  }

  let destinationEntity: EntityInfo | undefined
  const destination = await cache.describe(sync.destination.connection, sync.destination.entity)
  if (destination.ok) destinationEntity = destination.entity
  else if (destination.connectionFailed) issues.push({ path: `${at}.destination.connection`, message: destination.message })
  else if (!sync.destination.create) {
    issues.push({ path: `${at}.destination.entity`, message: withCreateHint(destination.message) })
  } else if (destination.code !== 'ENTITY_NOT_FOUND') {
    // create: true makes a missing table, not one whose name the datasource refuses.
    issues.push({ path: `${at}.destination.entity`, message: destination.message })
  }

  if (destinationEntity) {
    const problem = await sameTableIssue(sync, deps)
    if (problem) issues.push({ path: `${at}.destination`, message: problem })
  }

  const fieldNames = sourceEntity.fields.map((f) => f.name)
  const keys = sync.keys ?? sourceEntity.primaryKey
  const keysAt = `${at}.keys`
  if (keys.length === 0) {
    const unique = sourceEntity.uniqueKeys[0]
    const fix = unique ? `set keys: [${unique.join(', ')}] (a unique key of '${sourceEntity.name}')` : 'set keys: [field, …] to the field(s) that identify one row'
    issues.push({ path: keysAt, message: `source entity '${sourceEntity.name}' has no primary key; ${fix}` })
  } else {
    const missing = keys.filter((key) => !fieldNames.includes(key))
    keys.forEach((key, i) => {
      if (!fieldNames.includes(key)) issues.push({ path: `${keysAt}[${i}]`, message: unknownField('key field', key, sourceEntity) })
    })
    if (missing.length === 0) issues.push(...(await keyProblems(sync, keys, keysAt, sourceEntity, deps)))
  }

  const extraSourceFields: string[] = []
  for (const setting of ['cursor', 'softDelete'] as const) {
    const name = sync[setting]
    if (name === undefined) continue
    const field = sourceEntity.fields.find((f) => f.name === name)
    if (!field) {
      issues.push({ path: `${at}.${setting}`, message: unknownField(`${setting === 'cursor' ? 'cursor' : 'soft-delete'} field`, name, sourceEntity) })
      continue
    }
    extraSourceFields.push(name)
    if (setting === 'cursor' && !ORDERABLE_CURSOR_TYPES.includes(field.type)) {
      issues.push({
        path: `${at}.cursor`,
        message: `cursor '${name}' is ${field.type} (${field.nativeType}), which cannot be ordered as a watermark; choose a timestamp, date or increasing number field, e.g. updated_at`,
      })
    }
    if (setting === 'cursor' && sync.mode === 'incremental' && field.type === 'text' && deps.timestampSpellings) {
      const found = await deps.timestampSpellings(sync.source.connection, sourceEntity.name, name)
      if (found) issues.push({ path: `${at}.cursor`, message: cursorSpellingProblem(field, found) })
    }
  }

  // The mapping and filters are checked by the code the engine runs, so the two never disagree.
  if (keys.length > 0) {
    issues.push(
      ...collectPlanIssues(at, () => {
        createRecordMapper({ mapping: sync.mapping, keys, source: sourceEntity, destination: destinationEntity, extraSourceFields, labels: sideLabels(sync) })
      }, 'mapping'),
    )
  }
  issues.push(...collectPlanIssues(at, () => resolveFilters(sync.filters, sourceEntity), 'filters'))
  return distinct(issues)
}

/** Whether the destination is the source table itself; a failure to tell is reported too. */
async function sameTableIssue(sync: SyncPlan, deps: LiveValidationDeps): Promise<string | undefined> {
  if (!deps.physicalIdentity) return undefined
  try {
    const source = await deps.physicalIdentity(sync.source.connection, sync.source.entity)
    return sameTableProblem(sync, source, await deps.physicalIdentity(sync.destination.connection, sync.destination.entity))
  } catch (error) {
    if (!(error instanceof SynclineError)) throw error
    return `could not check that the destination is not the source table: ${error.message}`
  }
}

/** The mapper checks key fields too, in the same words: report each problem once. */
function distinct(issues: PlanIssue[]): PlanIssue[] {
  const seen = new Set<string>()
  return issues.filter((issue) => {
    const id = `${issue.path}\n${issue.message}`
    if (seen.has(id)) return false
    seen.add(id)
    return true
  })
}

/** Keys must identify one row: covered by the primary key or a unique key, or shown free of duplicates. */
async function keyProblems(sync: SyncPlan, keys: string[], keysAt: string, source: EntityInfo, deps: LiveValidationDeps): Promise<PlanIssue[]> {
  const issues: PlanIssue[] = []
  keys.forEach((key, i) => {
    const type = source.fields.find((f) => f.name === key)?.type
    if (type === 'json') {
      issues.push({ path: `${keysAt}[${i}]`, message: `key field '${key}' is json, which has no stable order; choose a text, number, date or uuid field` })
    }
  })
  const uniqueSets = [source.primaryKey, ...source.uniqueKeys].filter((set) => set.length > 0)
  // Any unique set inside the keys makes the keys unique too.
  if (uniqueSets.some((set) => set.every((field) => keys.includes(field)))) return issues
  let duplicates: number | undefined
  try {
    duplicates = await deps.countDuplicateKeys(sync.source.connection, sync.source.entity, keys)
  } catch (error) {
    if (!(error instanceof SynclineError)) throw error
    issues.push({ path: keysAt, message: `could not check that key (${keys.join(', ')}) is unique: ${error.message}` })
    return issues
  }
  if (duplicates !== undefined && duplicates > 0) {
    issues.push({
      path: keysAt,
      message: `key (${keys.join(', ')}) is not unique: ${duplicates} ${duplicates === 1 ? 'row shares' : 'rows share'} a key; choose keys that identify one row`,
    })
  }
  return issues
}

/** Run a check that reports through PlanError with sync-relative paths; prefix them with the sync's path. */
function collectPlanIssues(at: string, check: () => void, fallbackPath: string): PlanIssue[] {
  try {
    check()
    return []
  } catch (error) {
    if (error instanceof PlanError) return error.issues.map((issue) => ({ ...issue, path: joinPath(at, issue.path) }))
    if (error instanceof SynclineError) return [{ path: joinPath(at, fallbackPath), message: error.message }]
    throw error
  }
}

type Described = { ok: true; entity: EntityInfo } | { ok: false; message: string; code: string; connectionFailed: boolean }

/** Describes each entity once, and stops asking a connection that could not be reached. */
class DescribeCache {
  private readonly entities = new Map<string, Promise<Described>>()
  private readonly failedConnections = new Map<string, string>()

  constructor(private readonly deps: LiveValidationDeps) {}

  async describe(connection: string, entity: string): Promise<Described> {
    const failed = this.failedConnections.get(connection)
    if (failed !== undefined) return { ok: false, message: failed, code: 'CONNECTION_REFUSED', connectionFailed: true }
    const cacheKey = JSON.stringify([connection, entity])
    let result = this.entities.get(cacheKey)
    if (!result) {
      result = this.load(connection, entity)
      this.entities.set(cacheKey, result)
    }
    return result
  }

  private async load(connection: string, entity: string): Promise<Described> {
    try {
      return { ok: true, entity: await this.deps.describe(connection, entity) }
    } catch (error) {
      if (!(error instanceof SynclineError)) throw error
      const connectionFailed = CONNECTION_CODES.has(error.code) || error.failure === 'transient'
      if (connectionFailed) this.failedConnections.set(connection, error.message)
      return { ok: false, message: error.message, code: error.code, connectionFailed }
    }
  }
}
