/**
 * The plan as it should be written to a file: settings in a fixed order,
 * defaults left out (unless the previous file spelled them out), and
 * `${VAR}` references kept where the previous file had them, so saving never
 * writes a secret that came from the environment.
 */
import { expandEnvString, isPlainObject } from './env.js'
import { syncSchema, type Plan, type SyncPlan } from './schema.js'

const SYNC_KEY_ORDER = [
  'id',
  'source',
  'destination',
  'keys',
  'mode',
  'direction',
  'cursor',
  'destinationCursor',
  'deletes',
  'softDelete',
  'mapping',
  'filters',
  'conflict',
  'conflictTies',
  'schedule',
  'timezone',
  'batchSize',
  'lookback',
  'maxErrors',
  'retries',
  'retryDelay',
  'foreignKeys',
  'schema',
] as const satisfies readonly (keyof SyncPlan)[]

const DEFAULT_STATE = '.syncline/state.db'

/** Defaults of a sync, read from the schema so they never drift from it. */
const SYNC_DEFAULTS: Record<string, unknown> = syncSchema.parse({
  id: 'x',
  source: { connection: 'x', entity: 'x' },
  destination: { connection: 'x', entity: 'x' },
})

/**
 * The document to write for `plan`.
 * @param previousRaw the plan as previously written (before `${VAR}` expansion), if any
 * @param env the environment `${VAR}` references are expanded with, to tell whether a value is unchanged
 */
export function planToDocument(plan: Plan, previousRaw: unknown, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const previous = isPlainObject(previousRaw) ? previousRaw : {}
  const doc: Record<string, unknown> = {}
  if (plan.state !== DEFAULT_STATE || previous.state !== undefined) doc.state = keepReferences(plan.state, previous.state, env)

  const previousConnections = isPlainObject(previous.connections) ? previous.connections : {}
  const connections: Record<string, unknown> = {}
  for (const [name, connection] of Object.entries(plan.connections)) {
    const written: Record<string, unknown> = { url: connection.url }
    if (connection.password !== undefined) written.password = connection.password
    connections[name] = keepReferences(written, previousConnections[name], env)
  }
  doc.connections = connections
  if (plan.timezone !== undefined) doc.timezone = keepReferences(plan.timezone, previous.timezone, env)

  const previousSyncs = Array.isArray(previous.syncs) ? previous.syncs.filter(isPlainObject) : []
  doc.syncs = plan.syncs.map((sync) => {
    // Syncs are matched by id, so adding or removing one does not shift the others.
    const before = previousSyncs.find((s) => s.id === sync.id)
    return keepReferences(syncToDocument(sync, before), before, env)
  })
  return doc
}

function syncToDocument(sync: SyncPlan, previous: Record<string, unknown> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const key of SYNC_KEY_ORDER) {
    const value: unknown = key === 'source' || key === 'destination' ? endpoint(sync[key]) : sync[key]
    if (value === undefined) continue
    const written = previous?.[key] !== undefined
    if (key === 'mapping') {
      const mapping = mappingToDocument(sync.mapping, isPlainObject(previous?.mapping) ? previous.mapping : undefined)
      if (Object.keys(mapping).length > 0 || written) out.mapping = mapping
      continue
    }
    if (!written && deepEqual(value, SYNC_DEFAULTS[key])) continue
    out[key] = value
  }
  return out
}

function endpoint(end: SyncPlan['source']): Record<string, unknown> {
  const out: Record<string, unknown> = { connection: end.connection, entity: end.entity }
  if (end.create !== undefined) out.create = end.create
  return out
}

function mappingToDocument(mapping: SyncPlan['mapping'], previous: Record<string, unknown> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  if (!mapping.auto || previous?.auto !== undefined) out.auto = mapping.auto
  if (mapping.fields.length > 0 || previous?.fields !== undefined) {
    out.fields = mapping.fields.map((f) => {
      const field: Record<string, unknown> = {}
      if (f.source !== undefined) field.source = f.source
      field.destination = f.destination
      if (f.transform !== undefined) field.transform = f.transform
      if (f.oneWay !== undefined) field.oneWay = f.oneWay
      return field
    })
  }
  if (mapping.exclude.length > 0 || previous?.exclude !== undefined) out.exclude = mapping.exclude
  return out
}

/**
 * `value` with every string put back as the previous `${VAR}` text wherever
 * that text expands to the same string now. Objects are matched by key and
 * lists by position.
 */
export function keepReferences<T>(value: T, previous: unknown, env: NodeJS.ProcessEnv): T {
  if (typeof value === 'string') {
    if (typeof previous === 'string' && previous.includes('${')) {
      const expanded = expandEnvString(previous, env)
      if (expanded.ok && expanded.value === value) return previous as T
    }
    return value
  }
  if (Array.isArray(value)) {
    const before = Array.isArray(previous) ? previous : []
    return value.map((item, i) => keepReferences(item, before[i], env)) as T
  }
  if (isPlainObject(value)) {
    const before = isPlainObject(previous) ? previous : {}
    const out: Record<string, unknown> = {}
    for (const [key, item] of Object.entries(value)) out[key] = keepReferences(item, before[key], env)
    return out as T
  }
  return value
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, i) => deepEqual(item, b[i]))
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = Object.keys(a)
    return keys.length === Object.keys(b).length && keys.every((key) => deepEqual(a[key], b[key]))
  }
  return false
}
