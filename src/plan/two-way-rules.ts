/**
 * The settings a two-way sync needs, checked without touching a datasource
 * (docs/two-way.md). The engine adds what needs the entities: that the
 * destination cursor exists and the keys have an order-preserving encoding.
 */
import type { PlanIssue } from '../errors.js'
import type { SyncPlan } from './schema.js'

/**
 * Problems of one sync's two-way settings, with paths relative to the plan
 * (`at` is `syncs[N]`). Empty for a consistent plan.
 * @example twoWayIssues(sync, 'syncs[0]') // [{ path: 'syncs[0].mode', message: … }] for a full two-way sync
 */
export function twoWayIssues(sync: SyncPlan, at: string): PlanIssue[] {
  const issues: PlanIssue[] = []
  if (sync.direction !== 'two-way') {
    if (sync.destinationCursor !== undefined) {
      issues.push({ path: `${at}.destinationCursor`, message: `destinationCursor applies to direction: two-way only; remove it or set direction: two-way` })
    }
    return issues
  }
  if (sync.mode === 'full') {
    issues.push({
      path: `${at}.mode`,
      message: `direction two-way reads each side's changes since the last run (or as they happen), so it needs mode: incremental or realtime and a cursor on both sides, e.g. mode: incremental, cursor: updated_at`,
    })
  }
  if (sync.filters.length > 0) {
    issues.push({
      path: `${at}.filters`,
      message: `filters are not supported with direction two-way: a row that leaves the filter would look deleted on one side and be deleted on the other; remove the filters or sync one way`,
    })
  }
  sync.mapping.fields.forEach((field, index) => {
    const path = `${at}.mapping.fields[${index}]`
    if (field.transform !== undefined && field.oneWay !== true) {
      issues.push({
        path: `${path}.transform`,
        message:
          `a two-way sync writes every field back to the source, but the transform '${field.transform}' cannot be undone (a destination value does not tell which source value made it); ` +
          `mark the field oneWay: true to write it from source to destination only, or map a field directly`,
      })
    }
    if (field.oneWay === true && field.source !== undefined && sync.keys?.includes(field.source)) {
      issues.push({ path: `${path}.oneWay`, message: `key field '${field.source}' identifies rows on both sides and cannot be one-way; remove oneWay` })
    }
    if (field.oneWay === true && sync.destinationCursor !== undefined && field.destination === sync.destinationCursor) {
      issues.push({ path: `${path}.oneWay`, message: `'${field.destination}' is the destinationCursor, which both directions read; remove oneWay or name another destinationCursor` })
    }
  })
  return issues
}
