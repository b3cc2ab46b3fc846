/**
 * SyncManager as a library user manages plans with it: open a file or an
 * object, add/update/remove syncs, save (with a `.bak`, keeping `${VAR}`),
 * validate without throwing, and look at datasources with errors that say
 * what was meant.
 */
import Database from 'better-sqlite3'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { PlanError, SynclineError } from '../../src/errors.js'
import { SyncManager } from '../../src/sync-manager.js'
import { postgresDatasource, type TestDatasource } from '../engine/datasources.js'
import { hasPostgres, tempDir } from '../helpers/services.js'

const pgAvailable = await hasPostgres()

const PLAN_TEXT = `# The team's plan: keep this comment.
connections:
  shop:
    url: sqlite:./shop.db          # relative to this file
  warehouse:
    url: sqlite:./warehouse.db
  reporting:                       # never contacted by these tests
    url: postgres://sync@127.0.0.1:5432/reporting
    password: \${WAREHOUSE_PASSWORD}
syncs:
  - id: albums
    source: { connection: shop, entity: Album }
    destination: { connection: warehouse, entity: albums, create: true }
`
const ENV = { WAREHOUSE_PASSWORD: 'pw-secret-3a9f' }

let dir: { path: string; remove: () => void }
let manager: SyncManager | undefined
afterEach(async () => {
  await manager?.close()
  manager = undefined
  dir?.remove()
})

function fixture(): string {
  dir = tempDir('syncline-library-')
  const db = new Database(join(dir.path, 'shop.db'))
  db.exec(`CREATE TABLE "Album" ("AlbumId" INTEGER PRIMARY KEY, "Title" TEXT NOT NULL, "ArtistId" INTEGER, "Release Date" TEXT);
    INSERT INTO "Album" VALUES (1, 'For Those About To Rock', 1, '1981-11-23'), (2, 'Balls to the Wall', 2, NULL);
    CREATE TABLE "Artist" ("ArtistId" INTEGER PRIMARY KEY, "Name" TEXT);`)
  db.close()
  const warehouse = new Database(join(dir.path, 'warehouse.db'))
  warehouse.exec(`CREATE TABLE albums (album_id INTEGER PRIMARY KEY, title TEXT, artist_id INTEGER, release_date TEXT, loaded_at TEXT)`)
  warehouse.close()
  const path = join(dir.path, 'syncline.yaml')
  writeFileSync(path, PLAN_TEXT)
  return path
}

describe('SyncManager.open', () => {
  it('opens a plan file, resolving relative paths against its directory', async () => {
    const path = fixture()
    manager = await SyncManager.open({ config: path, env: ENV })
    expect(manager.path).toBe(path)
    expect(manager.plan.syncs.map((s) => s.id)).toEqual(['albums'])
    expect(manager.plan.syncs[0]).toMatchObject({ mode: 'full', batchSize: 5000 }) // defaults filled in
    expect(manager.plan.connections.reporting?.password).toBe(ENV.WAREHOUSE_PASSWORD)
    const report = await manager.checkConnection('shop')
    expect(report.details.path).toBe(join(dir.path, 'shop.db'))
  })

  it('opens a plan object, relative to baseDir', async () => {
    fixture()
    manager = await SyncManager.open({
      config: { connections: { shop: { url: 'sqlite:./shop.db' } }, syncs: [{ id: 'a', source: { connection: 'shop', entity: 'Album' }, destination: { connection: 'shop', entity: 'album_copy', create: true } }] },
      baseDir: dir.path,
    })
    expect(manager.path).toBeUndefined()
    expect((await manager.run('a')).status).toBe('succeeded')
    await expect(manager.savePlans()).rejects.toMatchObject({ code: 'PLAN_INVALID', message: expect.stringContaining('savePlans(path)') })
  })

  it('rejects an invalid plan with every issue and its path', async () => {
    fixture()
    const error = await SyncManager.open({ config: { connections: {}, syncs: [{ id: 'Bad Id', source: { connection: 'nope', entity: 'x' }, destination: { connection: 'nope', entity: 'y' } }] } }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(PlanError)
    expect((error as PlanError).issues.map((i) => i.path)).toContain('syncs[0].id')
    const missing = await SyncManager.open({ config: join(dir.path, 'nope.yaml') }).catch((e: unknown) => e)
    expect(missing).toMatchObject({ code: 'PLAN_NOT_FOUND', message: expect.stringContaining('syncline init') })
  })
})

describe('editing and saving plans', () => {
  it('addPlan, updatePlan, removePlan and savePlans write YAML, keep a .bak and keep ${VAR}', async () => {
    const path = fixture()
    manager = await SyncManager.open({ config: path, env: ENV })
    manager.addPlan({ id: 'artists', source: { connection: 'shop', entity: 'Artist' }, destination: { connection: 'warehouse', entity: 'artists', create: true }, batchSize: 100 })
    manager.updatePlan({ id: 'albums', source: { connection: 'shop', entity: 'Album' }, destination: { connection: 'warehouse', entity: 'albums' }, mode: 'full', deletes: 'ignore' })
    expect(manager.plan.syncs.map((s) => s.id)).toEqual(['albums', 'artists'])
    expect(manager.getPlan('albums').deletes).toBe('ignore')

    const saved = await manager.savePlans()
    expect(saved).toEqual({ path, backupPath: `${path}.bak` })
    expect(readFileSync(`${path}.bak`, 'utf8')).toBe(PLAN_TEXT)
    const text = readFileSync(path, 'utf8')
    expect(text).toContain('password: ${WAREHOUSE_PASSWORD}')
    expect(text).not.toContain(ENV.WAREHOUSE_PASSWORD)
    expect(text).toContain("# The team's plan: keep this comment.")
    const written = parse(text) as { syncs: Array<Record<string, unknown>> }
    expect(written.syncs.map((s) => s.id)).toEqual(['albums', 'artists'])
    expect(written.syncs[0]).toMatchObject({ deletes: 'ignore' })
    expect(written.syncs[1]).toMatchObject({ batchSize: 100 })

    manager.removePlan('artists')
    await manager.savePlans()
    expect(readFileSync(`${path}.bak`, 'utf8')).toBe(text) // the .bak is the file before this save
    const reopened = await SyncManager.open({ config: path, env: ENV })
    try {
      expect(reopened.plan.syncs.map((s) => s.id)).toEqual(['albums'])
      expect(reopened.plan.connections.reporting?.password).toBe(ENV.WAREHOUSE_PASSWORD)
    } finally {
      await reopened.close()
    }
  })

  it('refuses edits that would make the plan invalid, and leaves the plan as it was', async () => {
    const path = fixture()
    manager = await SyncManager.open({ config: path, env: ENV })
    expect(() => manager!.addPlan({ id: 'albums', source: { connection: 'shop', entity: 'Album' }, destination: { connection: 'warehouse', entity: 'x' } })).toThrow(/exists already/)
    const bad = (() => {
      try {
        manager!.addPlan({ id: 'x', source: { connection: 'shp', entity: 'Album' }, destination: { connection: 'warehouse', entity: 'x' } })
      } catch (error) {
        return error
      }
    })()
    expect(bad).toBeInstanceOf(PlanError)
    expect((bad as PlanError).issues).toEqual([{ path: 'syncs[1].source.connection', message: expect.stringContaining("Did you mean 'shop'?") }])
    expect(() => manager!.updatePlan({ id: 'albumz', source: { connection: 'shop', entity: 'Album' }, destination: { connection: 'warehouse', entity: 'x' } })).toThrow(
      expect.objectContaining({ code: 'SYNC_NOT_FOUND', message: expect.stringContaining("Did you mean 'albums'?") }),
    )
    expect(() => manager!.removePlan('nope')).toThrow(SynclineError)
    expect(manager.plan.syncs.map((s) => s.id)).toEqual(['albums'])
  })
})

describe('validate', () => {
  it('returns { ok, errors: [{ path, message }] } for a sync, a whole plan, or the current plan', async () => {
    const path = fixture()
    manager = await SyncManager.open({ config: path, env: ENV })
    expect(manager.validate()).toEqual({ ok: true, errors: [] })
    expect(manager.validate({ id: 'artists', source: { connection: 'shop', entity: 'Artist' }, destination: { connection: 'warehouse', entity: 'artists' } })).toEqual({ ok: true, errors: [] })

    // A new sync is checked where addPlan would put it; an existing id where it is.
    expect(manager.validate({ id: 'artists', source: { connection: 'shop', entity: 'Artist' }, destination: { connection: 'warehuose', entity: 'artists' } })).toEqual({
      ok: false,
      errors: [{ path: 'syncs[1].destination.connection', message: expect.stringContaining("Did you mean 'warehouse'?") }],
    })
    expect(manager.validate({ id: 'albums', source: { connection: 'shop', entity: 'Album' }, destination: { connection: 'warehouse', entity: 'albums' }, mode: 'incremental' })).toEqual({
      ok: false,
      errors: [{ path: 'syncs[0].cursor', message: expect.stringContaining('cursor') }],
    })

    const whole = manager.validate({ connections: { a: { url: 'sqlite:a.db' } }, syncs: [{ id: 'x', source: { connection: 'a', entity: 't' }, destination: { connection: 'a', entity: 'u' }, batchsize: 10 } as never] })
    expect(whole.ok).toBe(false)
    expect(whole.errors).toEqual([{ path: 'syncs[0].batchsize', message: expect.stringContaining("Did you mean 'batchSize'?") }])
    // Validation never changes the plan.
    expect(manager.plan.syncs.map((s) => s.id)).toEqual(['albums'])
  })

  it('parses transforms without touching a datasource (issue 6 #12)', async () => {
    manager = await SyncManager.open({ config: fixture(), env: ENV })
    const result = manager.validate({
      id: 'artists',
      source: { connection: 'shop', entity: 'Artist' },
      destination: { connection: 'warehouse', entity: 'artists' },
      mapping: { fields: [{ source: 'Name', destination: 'name' }, { source: 'Name', destination: 'label', transform: '((' }] },
    })
    expect(result).toEqual({ ok: false, errors: [{ path: 'syncs[1].mapping.fields[1].transform', message: expect.stringMatching(/at character 3\n {4}\(\(\n {6}\^$/) }] })
  })
})

describe('looking at datasources', () => {
  it('checkConnection, checkEntity and autoMap on SQLite', async () => {
    const path = fixture()
    manager = await SyncManager.open({ config: path, env: ENV })
    const report = await manager.checkConnection('shop')
    expect(report).toMatchObject({ connection: 'shop', kind: 'sqlite', capabilities: { transactions: true } })
    expect(report.version).toMatch(/^3\./)

    const album = await manager.checkEntity('shop', 'Album')
    expect(album.primaryKey).toEqual(['AlbumId'])
    expect(album.fields.map((f) => [f.name, f.type])).toEqual([['AlbumId', 'integer'], ['Title', 'text'], ['ArtistId', 'integer'], ['Release Date', 'text']])

    await expect(manager.checkEntity('shop', 'Albums')).rejects.toMatchObject({ code: 'ENTITY_NOT_FOUND', message: expect.stringContaining("Did you mean 'Album'?") })
    await expect(manager.checkConnection('shpo')).rejects.toMatchObject({ code: 'CONNECTION_NOT_FOUND', message: expect.stringContaining("Did you mean 'shop'?") })

    expect(await manager.autoMap('shop', 'Album', 'warehouse', 'albums')).toEqual([
      { source: 'AlbumId', destination: 'album_id' },
      { source: 'Title', destination: 'title' },
      { source: 'ArtistId', destination: 'artist_id' },
      { source: 'Release Date', destination: 'release_date' },
    ])
  })

  it('run of an unknown sync id rejects with SYNC_NOT_FOUND and a suggestion', async () => {
    const path = fixture()
    manager = await SyncManager.open({ config: path, env: ENV })
    await expect(manager.run('album')).rejects.toMatchObject({ code: 'SYNC_NOT_FOUND', failure: 'config', message: expect.stringContaining("Did you mean 'albums'?") })
  })
})

describe.skipIf(!pgAvailable)('looking at PostgreSQL', () => {
  let pg: TestDatasource
  beforeAll(async () => {
    pg = await postgresDatasource()
    await pg.exec(`CREATE TABLE albums (album_id integer PRIMARY KEY, title text NOT NULL, release_date date)`)
  })
  afterAll(() => pg?.cleanup())

  it('checkConnection, checkEntity and autoMap', async () => {
    fixture()
    manager = await SyncManager.open({ config: { connections: { shop: { url: 'sqlite:./shop.db' }, warehouse: { url: pg.url } } }, baseDir: dir.path })
    expect(await manager.checkConnection('warehouse')).toMatchObject({ kind: 'postgres', version: expect.stringMatching(/^PostgreSQL \d+/), capabilities: { bulkLoad: true } })
    const albums = await manager.checkEntity('warehouse', 'albums')
    expect(albums).toMatchObject({ primaryKey: ['album_id'] })
    expect(albums.fields.find((f) => f.name === 'release_date')?.type).toBe('date')
    await expect(manager.checkEntity('warehouse', 'album')).rejects.toMatchObject({ code: 'ENTITY_NOT_FOUND', message: expect.stringContaining('albums') })
    expect(await manager.autoMap('shop', 'Album', 'warehouse', 'albums')).toEqual([
      { source: 'AlbumId', destination: 'album_id' },
      { source: 'Title', destination: 'title' },
      { source: 'Release Date', destination: 'release_date' },
    ])
  })
})
