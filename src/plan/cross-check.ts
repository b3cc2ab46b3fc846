/**
 * Checks that span more than one setting, run after the schema accepted the
 * plan: ids are unique, syncs name connections that exist, a mode has the
 * settings it needs, schedules are valid cron, connection URLs are usable,
 * transforms parse and filter values fit their operator.
 * Nothing here touches a datasource (see live-validate.ts for that).
 */
import { didYouMean, type PlanIssue } from '../errors.js'
import { offlineSyncIssues } from '../mapping/offline-checks.js'
import { connectionProblems, stateProblems } from './connection-url.js'
import { cronProblem, timezoneProblem } from './cron.js'
import { durationMs, type Plan, type SyncPlan } from './schema.js'
import { twoWayIssues } from './two-way-rules.js'

/**
 * Every cross-setting problem in a schema-valid plan, in file order.
 * @example crossCheckPlan(planSchema.parse(input)) // [] when consistent
 */
export function crossCheckPlan(plan: Plan): PlanIssue[] {
  const issues: PlanIssue[] = [...stateProblems(plan.state)]
  if (plan.timezone !== undefined) {
    const problem = timezoneProblem(plan.timezone)
    if (problem !== undefined) issues.push({ path: 'timezone', message: problem })
  }
  for (const [name, connection] of Object.entries(plan.connections)) issues.push(...connectionProblems(name, connection))

  issues.push(...feedProblems(plan))

  const firstIndexOfId = new Map<string, number>()
  plan.syncs.forEach((sync, index) => {
    const at = `syncs[${index}]`
    const first = firstIndexOfId.get(sync.id)
    if (first === undefined) firstIndexOfId.set(sync.id, index)
    else {
      issues.push({ path: `${at}.id`, message: `sync id '${sync.id}' is already used by syncs[${first}]; give each sync its own id` })
    }
    issues.push(...syncProblems(sync, at, plan))
  })
  return issues
}

/** `feeds:` names connections that exist, each entity once; `feedReplay` is above zero. */
function feedProblems(plan: Plan): PlanIssue[] {
  const issues: PlanIssue[] = []
  const connectionNames = Object.keys(plan.connections)
  const seen = new Set<string>()
  plan.feeds.forEach((feed, index) => {
    if (!Object.hasOwn(plan.connections, feed.connection)) {
      const suggestion = didYouMean(feed.connection, connectionNames)
      issues.push({ path: `feeds[${index}].connection`, message: `unknown connection '${feed.connection}'.${suggestion || ` Known connections: ${connectionNames.join(', ') || 'none'}.`}` })
    }
    const id = `${feed.connection}\0${feed.entity}`
    if (seen.has(id)) issues.push({ path: `feeds[${index}]`, message: `${feed.connection}.${feed.entity} is listed twice; list each entity once` })
    seen.add(id)
  })
  if (durationMs(plan.feedReplay) <= 0) issues.push({ path: 'feedReplay', message: 'the replay window must be above zero, e.g. feedReplay: 24h' })
  return issues
}

function syncProblems(sync: SyncPlan, at: string, plan: Plan): PlanIssue[] {
  const issues: PlanIssue[] = []
  const connectionNames = Object.keys(plan.connections)

  for (const end of ['source', 'destination'] as const) {
    const name = sync[end].connection
    if (Object.hasOwn(plan.connections, name)) continue
    const suggestion = didYouMean(name, connectionNames)
    let message = `unknown connection '${name}'.`
    if (suggestion !== '') message += suggestion
    else if (connectionNames.length > 0) message += ` Known connections: ${connectionNames.join(', ')}; or add '${name}' under connections:`
    else message += ` Add it under connections:, e.g. ${name}: { url: sqlite:./${name}.db }`
    issues.push({ path: `${at}.${end}.connection`, message })
  }
  if (sync.source.create !== undefined) {
    issues.push({
      path: `${at}.source.create`,
      message: `'create' applies to the destination only; move it to destination: { …, create: true }`,
    })
  }
  if (sync.source.connection === sync.destination.connection && sync.source.entity === sync.destination.entity) {
    issues.push({
      path: `${at}.destination.entity`,
      message: `the destination is the source itself (${sync.source.connection}.${sync.source.entity}); name a different entity or connection`,
    })
  }

  if (sync.keys) {
    const seen = new Set<string>()
    sync.keys.forEach((key, index) => {
      if (seen.has(key)) issues.push({ path: `${at}.keys[${index}]`, message: `key field '${key}' is listed twice; list each key field once` })
      seen.add(key)
    })
  }

  // mode realtime passes here on purpose: whether a connection can stream
  // changes is a property of the datasource, checked by the engine (and `syncline check`).
  if (sync.mode === 'incremental' && sync.cursor === undefined) {
    issues.push({
      path: `${at}.cursor`,
      message: `mode incremental needs a cursor: a field that increases whenever a row changes, e.g. cursor: updated_at (or use mode: full)`,
    })
  }
  if (sync.direction === 'two-way' && sync.cursor === undefined) {
    issues.push({
      path: `${at}.cursor`,
      message: `direction two-way needs a cursor on both sides, a field that increases whenever a row changes, e.g. cursor: updated_at`,
    })
  }
  issues.push(...twoWayIssues(sync, at))
  if (sync.softDelete !== undefined && sync.softDelete === sync.cursor) {
    issues.push({ path: `${at}.softDelete`, message: `softDelete and cursor are both '${sync.cursor}'; softDelete names a field that is set when a row is deleted, e.g. deleted_at` })
  }

  const destinations = new Map<string, number>()
  sync.mapping.fields.forEach((field, index) => {
    const first = destinations.get(field.destination)
    if (first === undefined) destinations.set(field.destination, index)
    else {
      issues.push({
        path: `${at}.mapping.fields[${index}].destination`,
        message: `destination field '${field.destination}' is already mapped by mapping.fields[${first}]; map each destination field once`,
      })
    }
  })

  for (const issue of offlineSyncIssues(sync)) issues.push({ path: `${at}.${issue.path}`, message: issue.message })

  if (sync.timezone !== undefined) {
    const problem = timezoneProblem(sync.timezone)
    if (problem !== undefined) issues.push({ path: `${at}.timezone`, message: problem })
  }
  if (sync.schedule !== undefined) {
    const zone = sync.timezone ?? plan.timezone
    // A bad zone is reported once, where it is written.
    const problem = zone !== undefined && timezoneProblem(zone) !== undefined ? undefined : cronProblem(sync.schedule, zone)
    if (problem !== undefined) issues.push({ path: `${at}.schedule`, message: `schedule '${sync.schedule}': ${problem}` })
  }
  return issues
}
