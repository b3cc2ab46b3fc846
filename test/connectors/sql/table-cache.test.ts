/**
 * The SQL connectors' table descriptions: one catalog read per table whether
 * it is asked for by the plan's name (`items`) or by the name its
 * description goes by (`public.items`, what the engine asks with after
 * preparing a sync), and forgotten by both names together.
 */
import { describe, expect, it } from 'vitest'
import { SynclineError } from '../../../src/errors.js'
import { TableCache } from '../../../src/connectors/sql/table-cache.js'

interface Table {
  name: string
  columns: string[]
}

/** A catalog of one table `public.items`, counting its reads. */
function catalog() {
  const state = { reads: 0, columns: ['id'] }
  const cache = new TableCache<Table>(
    async (entity) => {
      if (entity !== 'items' && entity !== 'public.items') throw new SynclineError('ENTITY_NOT_FOUND', 'config', `no ${entity}`)
      state.reads++
      return { name: 'public.items', columns: [...state.columns] }
    },
    (table) => table.name,
  )
  return { state, cache }
}

describe('TableCache', () => {
  it('reads a table once for its plan name and its described name', async () => {
    const { state, cache } = catalog()
    expect((await cache.get('items')).name).toBe('public.items')
    expect((await cache.get('public.items')).columns).toEqual(['id'])
    expect(await cache.get('items')).toBe(await cache.get('public.items'))
    expect(state.reads).toBe(1)
  })

  it('forgets a table by both names, so a column added since is seen by either', async () => {
    const { state, cache } = catalog()
    await cache.get('items')
    state.columns.push('name')
    cache.forget('items')
    expect((await cache.get('public.items')).columns).toEqual(['id', 'name'])
    expect(state.reads).toBe(2)
  })

  it('describes again and retries once when work fails on a missing field, whichever name it used', async () => {
    const { state, cache } = catalog()
    await cache.get('items')
    state.columns.push('name')
    // A description read while the work runs is fresh: only an older one is read again.
    await new Promise((resolve) => setTimeout(resolve, 5))
    let attempts = 0
    const columns = await cache.withTable('public.items', async () => {
      attempts++
      const table = await cache.get('public.items')
      if (!table.columns.includes('name')) throw new SynclineError('FIELD_NOT_FOUND', 'config', 'no name')
      return table.columns
    })
    expect(columns).toEqual(['id', 'name'])
    expect(attempts).toBe(2)
    expect((await cache.get('items')).columns).toEqual(['id', 'name'])
  })

  it('keeps no entry for a table that does not exist', async () => {
    const { cache } = catalog()
    await expect(cache.get('nope')).rejects.toMatchObject({ code: 'ENTITY_NOT_FOUND' })
    await expect(cache.get('nope')).rejects.toMatchObject({ code: 'ENTITY_NOT_FOUND' })
  })
})
