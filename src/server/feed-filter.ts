/**
 * A feed client's filter on the shared capture's events: the same rules as
 * a filtered watch (engine/watch-filter.ts), on events instead of source
 * changes, since every client of one entity reads the one unfiltered log.
 */
import type { Filter } from '../connectors/connector.js'
import type { ChangeEvent } from '../engine/change-event.js'
import { matchesFilters } from '../mapping/filters.js'
import type { CanonicalType } from '../values/canonical.js'
import { recordId } from '../values/record-id.js'

/**
 * The event as the filtered client sees it, or undefined when it sees
 * nothing: an update that leaves the filter is a delete of that record (of
 * its old key when the key changed); one that never passed is nothing.
 */
export function filterEvent(event: ChangeEvent, filters: readonly Filter[], types: ReadonlyMap<string, CanonicalType>): ChangeEvent | undefined {
  const passedBefore = event.before === undefined ? undefined : matchesFilters(event.before, filters, types)
  if (event.type === 'delete' || event.record === undefined) return passedBefore === false ? undefined : event
  if (matchesFilters(event.record, filters, types)) return event
  if (event.type === 'create') return undefined
  if (passedBefore === false && event.previousKey === undefined) return undefined
  const key = event.previousKey ?? event.key
  const gone: ChangeEvent = {
    type: 'delete',
    connection: event.connection,
    entity: event.entity,
    recordId: event.previousKey === undefined ? event.recordId : recordId(Object.values(key)),
    key,
    changes: {},
    position: event.position,
  }
  if (event.committedAt !== undefined) gone.committedAt = event.committedAt
  return gone
}
