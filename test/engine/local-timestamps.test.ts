/**
 * Local (naive) timestamps through every ordered pair of PostgreSQL
 * (`timestamp`), MariaDB (`DATETIME(6)`), SQLite (`LOCAL_TIMESTAMP_TEXT`),
 * CSV and NDJSON (zone-less values, no sidecar) and back: the destination
 * is created with a local type, the values keep their digits and get no
 * zone, an idle re-run finds every row unchanged, and the way back lands
 * the same values with the same type.
 *
 * The process runs in Europe/Berlin, where 2026-03-29 02:30 does not exist
 * (clocks spring forward) and 2026-10-25 02:30 happens twice: any
 * conversion through a JavaScript Date or the process's zone would move them.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createConnector } from '../../src/connectors/registry.js'
import type { SyncPlanInput } from '../../src/plan/schema.js'
import type { Row } from '../../src/values/canonical.js'
import { hasMysql, hasPostgres } from '../helpers/services.js'
import { openDatasource, type DatasourceKind, type TestDatasource } from './datasources.js'
import { openManager, readAll } from './sync-harness.js'

process.env.TZ = 'Europe/Berlin'

const KINDS: DatasourceKind[] = ['postgres', 'mysql', 'sqlite', 'csv', 'ndjson']
const available = (await hasPostgres()) && (await hasMysql())

const ROWS: Row[] = [
  { id: 1, wall: '2026-03-29T02:30:00.000000' },
  { id: 2, wall: '2026-10-25T02:30:00.123456' },
  { id: 3, wall: '0001-01-01T00:00:00.000000' },
  { id: 4, wall: '9999-12-31T23:59:59.999999' },
  { id: 5, wall: '2026-11-21T10:00:00.000001' },
  { id: 6, wall: null },
]

/** The source entity, written the way a user's own table or file would be. */
async function seed(ds: TestDatasource, entity: string): Promise<void> {
  const values = ROWS.map((r) => [r.id, r.wall])
  switch (ds.kind) {
    case 'postgres':
      await ds.exec(`CREATE TABLE "${entity}" (id bigint PRIMARY KEY, wall timestamp)`)
      break
    case 'mysql':
      await ds.exec(`CREATE TABLE "${entity}" (id BIGINT PRIMARY KEY, wall DATETIME(6))`)
      break
    case 'sqlite':
      await ds.exec(`CREATE TABLE "${entity}" (id INTEGER PRIMARY KEY, wall LOCAL_TIMESTAMP_TEXT)`)
      break
    case 'csv':
      // Other writers' spellings: a space, no fraction; no zone, so a local timestamp.
      writeFileSync(join(ds.dir!, `${entity}.csv`), `id,wall\n${values.map(([id, wall]) => `${id},${wall === null ? '' : String(wall).replace('T', ' ').replace(/\.000000$/, '')}`).join('\n')}\n`)
      return
    case 'ndjson':
      writeFileSync(join(ds.dir!, `${entity}.ndjson`), values.map(([id, wall]) => JSON.stringify(wall === null ? { id } : { id, wall })).join('\n') + '\n')
      return
  }
  for (const [id, wall] of values) await ds.exec(`INSERT INTO "${entity}" (id, wall) VALUES (?, ?)`, [id, wall === null ? null : String(wall).replace('T', ' ')])
}

async function typeOf(ds: TestDatasource, entity: string, field: string): Promise<string | undefined> {
  const connector = await createConnector({ name: 'reader', url: ds.url })
  try {
    return (await connector.describe(entity)).fields.find((f) => f.name === field)?.type
  } finally {
    await connector.close()
  }
}

const sync = (id: string, from: string, to: string): SyncPlanInput => ({
  id,
  source: { connection: 'src', entity: from },
  destination: { connection: 'dst', entity: to, create: true },
  keys: ['id'],
})

describe.skipIf(!available)('local timestamps through every pair of connectors, in Europe/Berlin', () => {
  const datasources = new Map<DatasourceKind, TestDatasource>()
  beforeAll(async () => {
    for (const kind of KINDS) datasources.set(kind, await openDatasource(kind))
  })
  afterAll(async () => {
    for (const ds of datasources.values()) await ds.cleanup()
  })

  it('runs in a zone where 02:30 on 2026-03-29 does not exist', () => {
    // new Date() of a wall clock in the gap moves it an hour on: what a naive value must never go through.
    expect(new Date(2026, 2, 29, 2, 30).getHours()).toBe(3)
  })

  for (const from of KINDS) {
    for (const to of KINDS.filter((k) => k !== from)) {
      it(`${from} → ${to} → ${from}: same values, no zone, a local type on both sides`, async () => {
        const a = datasources.get(from)!
        const b = datasources.get(to)!
        const entity = `w_${from}_${to}`
        await seed(a, entity)
        expect(await typeOf(a, entity, 'wall')).toBe('localtimestamp')
        const there = await openManager(a, b, [sync('there', entity, entity)])
        try {
          expect(await there.manager.run('there')).toMatchObject({ status: 'succeeded', created: ROWS.length, failed: 0 })
          expect(await typeOf(b, entity, 'wall')).toBe('localtimestamp')
          expect(await readAll(b, entity, ['id'])).toEqual(ROWS)
          // Compared and hashed as the same values: nothing to write.
          expect(await there.manager.run('there')).toMatchObject({ status: 'succeeded', created: 0, updated: 0, unchanged: ROWS.length })
        } finally {
          await there.cleanup()
        }
        const back = await openManager(b, a, [sync('back', entity, `${entity}_back`)])
        try {
          expect(await back.manager.run('back')).toMatchObject({ status: 'succeeded', created: ROWS.length, failed: 0 })
          expect(await typeOf(a, `${entity}_back`, 'wall')).toBe('localtimestamp')
          expect(await readAll(a, `${entity}_back`, ['id'])).toEqual(ROWS)
        } finally {
          await back.cleanup()
        }
      })
    }
  }

  it('a local cursor reads incrementally with its look-back window, and filters compare as wall clocks', async () => {
    const pg = datasources.get('postgres')!
    const my = datasources.get('mysql')!
    await pg.exec('CREATE TABLE events (id bigint PRIMARY KEY, wall timestamp)')
    for (const [id, wall] of [[1, '2025-12-31 23:59:59.999999'], [2, '2026-03-29 02:30:00'], [3, '2026-03-29 03:10:00']]) await pg.exec('INSERT INTO events VALUES (?, ?)', [id, wall])
    // Enough older rows that re-reading the look-back window is cheaper than comparing in full.
    await pg.exec(`INSERT INTO events SELECT 100 + d, timestamp '2026-01-01' + d * interval '1 day' FROM generate_series(0, 29) AS d`)
    const plan: SyncPlanInput = {
      ...sync('events', 'events', 'events'),
      mode: 'incremental',
      cursor: 'wall',
      lookback: '1h',
      filters: [{ field: 'wall', op: '>=', value: '2026-01-01' }],
    }
    const { manager, cleanup } = await openManager(pg, my, [plan])
    try {
      expect(await manager.run('events')).toMatchObject({ status: 'succeeded', read: 32, created: 32 })
      await pg.exec('INSERT INTO events VALUES (?, ?), (?, ?)', [4, '2026-03-29 02:15:00', 5, '2026-03-29 01:59:00'])
      // Re-read from 02:10 (03:10 minus the hour): 02:15, 02:30 and 03:10. 01:59 is
      // before the window; the key pass finds it missing and copies it too.
      const second = await manager.run('events')
      expect(second).toMatchObject({ status: 'succeeded', read: 3, created: 2, unchanged: 2 })
      expect((second.notes ?? []).join(' ')).toMatch(/1 source row\(s\) were missing/)
      expect((await readAll(my, 'events', ['id'])).filter((r) => Number(r.id) < 100)).toEqual([
        { id: 2, wall: '2026-03-29T02:30:00.000000' },
        { id: 3, wall: '2026-03-29T03:10:00.000000' },
        { id: 4, wall: '2026-03-29T02:15:00.000000' },
        { id: 5, wall: '2026-03-29T01:59:00.000000' },
      ])
    } finally {
      await cleanup()
    }
  })
})

describe.skipIf(!available)('two-way latest-wins between a local and a zoned cursor', () => {
  let src: TestDatasource
  let dst: TestDatasource
  beforeAll(async () => {
    src = await openDatasource('postgres')
    dst = await openDatasource('sqlite', 'dst')
    await src.exec('CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, updated_at timestamp)')
    await dst.exec('CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, updated_at TIMESTAMP)')
  })
  afterAll(async () => {
    await src?.cleanup()
    await dst?.cleanup()
  })

  it('compares the local cursor as UTC: equal digits are a tie, later digits win', async () => {
    await src.exec(`INSERT INTO items VALUES (1, 'a', '2026-03-29 02:30:00')`)
    const plan: SyncPlanInput = { ...sync('items', 'items', 'items'), destination: { connection: 'dst', entity: 'items' }, mode: 'incremental', direction: 'two-way', cursor: 'updated_at', lookback: '0s', conflict: 'latest-wins', conflictTies: 'source' }
    const { manager, cleanup } = await openManager(src, dst, [plan])
    try {
      expect(await manager.run('items')).toMatchObject({ status: 'succeeded', created: 1 })
      expect((await readAll(dst, 'items', ['id']))[0]).toMatchObject({ updated_at: '2026-03-29T02:30:00.000000Z' })
      // The same digits on both sides: a tie, which conflictTies gives to the source.
      await src.exec(`UPDATE items SET name = 'source', updated_at = '2026-03-29 03:00:00' WHERE id = 1`)
      await dst.exec(`UPDATE items SET name = 'destination', updated_at = '2026-03-29T03:00:00.000000Z' WHERE id = 1`)
      expect(await manager.run('items')).toMatchObject({ status: 'succeeded', conflicts: 1 })
      expect((await readAll(dst, 'items', ['id']))[0]).toMatchObject({ name: 'source', updated_at: '2026-03-29T03:00:00.000000Z' })
      // A microsecond later on the local side wins.
      await src.exec(`UPDATE items SET name = 'source later', updated_at = '2026-03-29 04:00:00.000001' WHERE id = 1`)
      await dst.exec(`UPDATE items SET name = 'destination earlier', updated_at = '2026-03-29T04:00:00.000000Z' WHERE id = 1`)
      expect(await manager.run('items')).toMatchObject({ status: 'succeeded', conflicts: 1 })
      expect((await readAll(dst, 'items', ['id']))[0]).toMatchObject({ name: 'source later', updated_at: '2026-03-29T04:00:00.000001Z' })
    } finally {
      await cleanup()
    }
  })
})
