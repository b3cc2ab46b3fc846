/**
 * Filters on a watch (the WebSocket feed's `filter`): which changes of an
 * entity a filtered view sees. The aim is that a consumer who keeps the
 * snapshot's rows and applies the events ends with exactly the rows that
 * pass the filter, as a realtime sync's destination does
 * (change-batches.ts): a record that stops passing leaves the view.
 */
import type { Filter } from '../connectors/connector.js'
import type { SourceChange } from '../connectors/change-feed.js'
import { matchesFilters } from '../mapping/filters.js'
import type { CanonicalType } from '../values/canonical.js'

/**
 * The change as the filtered view sees it, or undefined when the view does
 * not see it at all:
 * - a create or update whose record passes: as it is;
 * - an update whose record no longer passes: a `delete` of that key (its
 *   record and before-image dropped), unless the source's before-image
 *   shows it did not pass before either (then nothing);
 * - a create that does not pass: nothing;
 * - a delete: as it is, unless its before-image shows it never passed
 *   (without one, a delete of a key the view does not hold is harmless).
 * @example filterChange(change, [{ field: 'Status', op: '=', value: 'Active' }], types)
 */
export function filterChange(change: SourceChange, filters: readonly Filter[], types: ReadonlyMap<string, CanonicalType>): SourceChange | undefined {
  const passedBefore = change.before === undefined ? undefined : matchesFilters(change.before, filters, types)
  if (change.type === 'delete' || change.record === undefined) return passedBefore === false ? undefined : change
  if (matchesFilters(change.record, filters, types)) return change
  if (change.type === 'create') return undefined
  // A key change moves the record: its old key must leave the view too, so the delete names that one.
  if (passedBefore === false && change.previousKey === undefined) return undefined
  const gone: SourceChange = { type: 'delete', key: change.previousKey ?? change.key, position: change.position }
  if (change.committedAt !== undefined) gone.committedAt = change.committedAt
  if (change.transaction !== undefined) gone.transaction = change.transaction
  return gone
}
