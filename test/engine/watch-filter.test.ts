/**
 * What a filtered watch (the WebSocket feed's `filter`) delivers, for the
 * cases a source without before-images (PostgreSQL's default replica
 * identity) leaves open: a record that leaves the filter must leave the
 * consumer's view, one that never passed must not reach it.
 */
import { describe, expect, it } from 'vitest'
import type { Filter } from '../../src/connectors/connector.js'
import type { SourceChange } from '../../src/connectors/change-feed.js'
import { filterChange } from '../../src/engine/watch-filter.js'
import type { CanonicalType } from '../../src/values/canonical.js'

const filters: Filter[] = [{ field: 'status', op: '=', value: 'active' }]
const types = new Map<string, CanonicalType>([
  ['id', 'integer'],
  ['status', 'text'],
])
const change = (c: Partial<SourceChange> & Pick<SourceChange, 'type'>): SourceChange => ({ key: [1], position: 'p1', ...c })

describe('filterChange', () => {
  it('passes creates and updates whose record passes, as they are', () => {
    const create = change({ type: 'create', record: { id: 1, status: 'active' } })
    expect(filterChange(create, filters, types)).toBe(create)
    const update = change({ type: 'update', record: { id: 1, status: 'active' }, before: { id: 1, status: 'gone' } })
    expect(filterChange(update, filters, types)).toBe(update)
  })

  it('drops a create that does not pass, and an update that did not pass before either', () => {
    expect(filterChange(change({ type: 'create', record: { id: 1, status: 'gone' } }), filters, types)).toBeUndefined()
    expect(filterChange(change({ type: 'update', record: { id: 1, status: 'gone' }, before: { id: 1, status: 'gone' } }), filters, types)).toBeUndefined()
  })

  it('turns an update that leaves the filter into a delete of its key, also without a before-image', () => {
    const committedAt = '2026-12-01T10:00:00.000000Z'
    expect(filterChange(change({ type: 'update', record: { id: 1, status: 'gone' }, committedAt }), filters, types)).toEqual({ type: 'delete', key: [1], position: 'p1', committedAt })
    expect(filterChange(change({ type: 'update', record: { id: 1, status: 'gone' }, before: { id: 1, status: 'active' } }), filters, types)).toEqual({ type: 'delete', key: [1], position: 'p1' })
  })

  it('deletes the old key when an update moves a record out of the filter and to a new key', () => {
    expect(filterChange(change({ type: 'update', key: [2], previousKey: [1], record: { id: 2, status: 'gone' } }), filters, types)).toEqual({ type: 'delete', key: [1], position: 'p1' })
  })

  it('passes deletes, unless the before-image shows the record never passed', () => {
    const bare = change({ type: 'delete' })
    expect(filterChange(bare, filters, types)).toBe(bare)
    expect(filterChange(change({ type: 'delete', before: { id: 1, status: 'gone' } }), filters, types)).toBeUndefined()
    expect(filterChange(change({ type: 'delete', before: { id: 1, status: 'active' } }), filters, types)).toMatchObject({ type: 'delete' })
  })
})
