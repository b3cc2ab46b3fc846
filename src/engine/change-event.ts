/**
 * Change events as users receive them (DESIGN §1.3), made from the
 * connectors' {@link SourceChange}s: the same shape for the library's
 * `watch`, `syncline watch` and the daemon's WebSocket feed.
 */
import type { ChangeType, SourceChange } from '../connectors/change-feed.js'
import type { CanonicalType, KeyValues, Row, Value } from '../values/canonical.js'
import { compareBytes, valuesEqual } from '../values/compare.js'
import { recordId } from '../values/record-id.js'

/**
 * One committed change of one record.
 * @example
 * { type: 'update', connection: 'shop', entity: 'Customer', recordId: '42', key: { CustomerId: 42 },
 *   record: { CustomerId: 42, Email: 'b@x.org' }, changes: { Email: 'b@x.org' }, before: { CustomerId: 42, Email: 'a@x.org' },
 *   position: 'watch_3f2a9c1d.MC8xNkIzNzQ4', committedAt: '2026-11-21T10:00:00.123456Z' }
 */
export interface ChangeEvent {
  type: ChangeType
  /** The connection's name in the plan. */
  connection: string
  entity: string
  /** The key as a string: `42`, or a JSON array for composite keys (`[1,"a"]`). */
  recordId: string
  /** The key fields and their values (after the change). */
  key: Row
  /**
   * Only on an update that changed the key: the key fields before it. The
   * record under the old key is gone.
   */
  previousKey?: Row
  /** Every field after the change, canonical values; absent on delete. */
  record?: Row
  /**
   * The fields whose value differs from `before` when the source gives the
   * row before the change; otherwise (creates, and updates from a source
   * that sends no before-image) every field of `record`. Empty on delete.
   */
  changes: Row
  /** The row before the change, only where the source gives it (e.g. PostgreSQL REPLICA IDENTITY FULL, SQLite). */
  before?: Row
  /** Opaque resume token: `since` this position delivers every later change, and none up to it. */
  position: string
  /** Commit time of the change's transaction (`YYYY-MM-DDTHH:MM:SS.ffffffZ`), where the source tells it. */
  committedAt?: string
}

/** What {@link toChangeEvent} needs besides the change. */
export interface ChangeEventContext {
  connection: string
  entity: string
  /** Key fields in the feed's order. */
  keys: readonly string[]
  /** Canonical type of each known field, so changes compare as the engine compares (`1.50` equals `1.5`). */
  types: ReadonlyMap<string, CanonicalType>
}

/** The user's event for a connector's change; `position` is the one the user resumes from. */
export function toChangeEvent(change: SourceChange, position: string, context: ChangeEventContext): ChangeEvent {
  const event: ChangeEvent = {
    type: change.type,
    connection: context.connection,
    entity: context.entity,
    recordId: recordId(change.key),
    key: keyRecord(context.keys, change.key),
    changes: {},
    position,
  }
  if (change.previousKey !== undefined) event.previousKey = keyRecord(context.keys, change.previousKey)
  if (change.record !== undefined) {
    event.record = change.record
    event.changes = changedFields(change.record, change.before, context.types)
  }
  if (change.before !== undefined) event.before = change.before
  if (change.committedAt !== undefined) event.committedAt = change.committedAt
  return event
}

function keyRecord(keys: readonly string[], values: KeyValues): Row {
  const key: Row = {}
  keys.forEach((field, i) => (key[field] = values[i] ?? null))
  return key
}

/** The fields of `record` that differ from `before`; all of them without a before-image. */
function changedFields(record: Row, before: Row | undefined, types: ReadonlyMap<string, CanonicalType>): Row {
  if (before === undefined) return { ...record }
  const changes: Row = {}
  for (const [field, value] of Object.entries(record)) {
    const type = types.get(field)
    const same = field in before && (type === undefined ? sameValue(value, before[field]!) : valuesEqual(type, value, before[field]!))
    if (!same) changes[field] = value
  }
  return changes
}

/** Equality for a field the entity did not describe when the watch started (a column added meanwhile). */
function sameValue(a: Value, b: Value): boolean {
  if (a instanceof Uint8Array && b instanceof Uint8Array) return compareBytes(a, b) === 0
  return a === b
}
