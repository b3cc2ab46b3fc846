/**
 * Looking at datasources from the command line: `check`, `discover` and
 * `automap`, on SQLite and PostgreSQL, in human and `--json` form; an
 * unreachable server is a clear failure (exit 1) that never shows a password.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { postgresDatasource, type TestDatasource } from '../engine/datasources.js'
import { hasPostgres } from '../helpers/services.js'
import { BUILD_TIMEOUT_MS, ensureBuilt } from './build.js'
import { jsonLines, STACK_FRAME } from './cli.js'
import { workspace, type Workspace } from './workspace.js'

const pgAvailable = await hasPostgres()

beforeAll(ensureBuilt, BUILD_TIMEOUT_MS)

let ws: Workspace
afterEach(() => ws?.remove())

const ALBUM_SQL = `CREATE TABLE "Artist" ("ArtistId" INTEGER PRIMARY KEY, "Name" TEXT NOT NULL);
CREATE TABLE "Album" ("AlbumId" INTEGER PRIMARY KEY, "Title" VARCHAR(160) NOT NULL, "ArtistId" INTEGER NOT NULL REFERENCES "Artist" ("ArtistId"), "Release Date" TEXT);`

describe('check, discover and automap on SQLite', () => {
  const fixture = () => {
    ws = workspace()
    ws.sqlite('music.db', ALBUM_SQL)
    ws.write('syncline.yaml', 'connections:\n  music:\n    url: sqlite:./music.db\n')
  }

  it('check reports the version and capabilities', async () => {
    fixture()
    const human = await ws.run(['check'])
    expect(human.code).toBe(0)
    expect(human.stdout).toMatch(/^music: ok \(sqlite 3\.\d+\.\d+\)/m)
    expect(human.stdout).toMatch(/capabilities: .*orderedKeyScan/)

    const json = await ws.run(['check', 'music', '--json'])
    expect(json.code).toBe(0)
    const [report] = jsonLines(json.stdout)
    expect(report).toMatchObject({ ok: true, connection: 'music', kind: 'sqlite', version: expect.stringMatching(/^3\.\d+/), capabilities: { transactions: true, orderedKeyScan: true, cdc: true }, cdc: { ready: true } })
  })

  it('check of an unknown connection suggests the closest one (exit 2)', async () => {
    fixture()
    const result = await ws.run(['check', 'musik'])
    expect(result.code).toBe(2)
    expect(result.all).toContain("Did you mean 'music'?")
  })

  it('discover lists entities, then one entity with fields, types and keys', async () => {
    fixture()
    const list = await ws.run(['discover', 'music'])
    expect(list.code).toBe(0)
    expect(list.stdout).toMatch(/^Album\s+4 fields, key \(AlbumId\)$/m)
    expect(list.stdout).toMatch(/^Artist\s+2 fields, key \(ArtistId\)$/m)

    const one = await ws.run(['discover', 'music', 'Album'])
    expect(one.code).toBe(0)
    expect(one.stdout).toMatch(/^\s+AlbumId\s+integer\s+INTEGER\s+\(key, not null\)$/m)
    expect(one.stdout).toMatch(/^\s+Release Date\s+text\s+TEXT$/m)
    expect(one.stdout).toMatch(/foreign key \(ArtistId\) → Artist \(ArtistId\)/)

    const json = await ws.run(['discover', 'music', '--json'])
    const entities = jsonLines(json.stdout)
    expect(entities.map((e) => e.name).sort()).toEqual(['Album', 'Artist'])
    const oneJson = jsonLines((await ws.run(['discover', 'music', 'Album', '--json'])).stdout)
    expect(oneJson).toHaveLength(1)
    expect(oneJson[0]).toMatchObject({ name: 'Album', primaryKey: ['AlbumId'], fields: expect.arrayContaining([expect.objectContaining({ name: 'Title', type: 'text', nullable: false })]) })
  })

  it('discover of a missing entity names the closest (exit 2)', async () => {
    fixture()
    const result = await ws.run(['discover', 'music', 'Albums'])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain("Did you mean 'Album'?")
    expect(result.stderr).not.toMatch(STACK_FRAME)
  })

  it('automap prints AlbumId → album_id style pairs, ready to paste', async () => {
    fixture()
    ws.sqlite('warehouse.db', `CREATE TABLE albums (album_id INTEGER PRIMARY KEY, title TEXT, artist_id INTEGER, release_date TEXT, loaded_at TEXT)`)
    ws.write('syncline.yaml', 'connections:\n  music:\n    url: sqlite:./music.db\n  warehouse:\n    url: sqlite:./warehouse.db\n')
    const human = await ws.run(['automap', 'music', 'Album', 'warehouse', 'albums'])
    expect(human.code).toBe(0)
    expect(human.stdout).toContain('- { source: "AlbumId", destination: "album_id" }')
    expect(human.stdout).toContain('- { source: "Release Date", destination: "release_date" }')
    expect(human.stdout).not.toContain('loaded_at')

    const json = await ws.run(['automap', 'music', 'Album', 'warehouse', 'albums', '--json'])
    expect(jsonLines(json.stdout)).toEqual([
      {
        fields: [
          { source: 'AlbumId', destination: 'album_id' },
          { source: 'Title', destination: 'title' },
          { source: 'ArtistId', destination: 'artist_id' },
          { source: 'Release Date', destination: 'release_date' },
        ],
      },
    ])
  })
})

describe.skipIf(!pgAvailable)('check and discover on PostgreSQL', () => {
  let pg: TestDatasource
  beforeAll(async () => {
    pg = await postgresDatasource()
    await pg.exec(`CREATE TABLE "Album" ("AlbumId" integer PRIMARY KEY, "Title" varchar(160) NOT NULL, price numeric(10,2), created_at timestamptz)`)
  })
  afterAll(() => pg?.cleanup())

  it('check reports the server version, capabilities and change-capture readiness', async () => {
    ws = workspace()
    ws.write('syncline.yaml', `connections:\n  warehouse:\n    url: ${pg.url}\n`)
    const human = await ws.run(['check'])
    expect(human.code).toBe(0)
    expect(human.stdout).toMatch(/^warehouse: ok \(postgres PostgreSQL \d+/m)
    expect(human.stdout).toMatch(/capabilities: .*bulkLoad/)
    expect(human.stdout).toMatch(/change capture: (ready|not ready)/)

    const [report] = jsonLines((await ws.run(['check', '--json'])).stdout)
    expect(report).toMatchObject({ ok: true, connection: 'warehouse', kind: 'postgres', version: expect.stringMatching(/^PostgreSQL \d+/), capabilities: { bulkExport: true, bulkLoad: true }, cdc: { ready: expect.any(Boolean) } })
  })

  it('discover shows canonical and native types', async () => {
    ws = workspace()
    ws.write('syncline.yaml', `connections:\n  warehouse:\n    url: ${pg.url}\n`)
    const result = await ws.run(['discover', 'warehouse', 'Album'])
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^\s+price\s+decimal\s+numeric\(10,2\)/m)
    expect(result.stdout).toMatch(/^\s+created_at\s+timestamp\s+timestamp(tz| with time zone)/m)
    const [entity] = jsonLines((await ws.run(['discover', 'warehouse', 'Album', '--json'])).stdout)
    expect(entity).toMatchObject({ primaryKey: ['AlbumId'] })
  })

  it('a closed port fails with exit 1 and a clear message, never showing the password', async () => {
    ws = workspace()
    ws.write('syncline.yaml', `connections:
  fromEnv:
    url: postgres://sync@127.0.0.1:1/warehouse
    password: \${PGPASS}
  inUrl:
    url: postgres://sync:url-secret-7f3a@127.0.0.1:1/warehouse
  live:
    url: ${pg.url}?password=param-secret-22d8
`)
    const env = { PGPASS: 'env-secret-91c2' }
    for (const args of [['check'], ['check', '--json'], ['check', 'inUrl'], ['discover', 'fromEnv'], ['discover', 'inUrl', '--json'], ['validate', '--live']]) {
      const result = await ws.run(args, { env })
      expect(result.all, args.join(' ')).not.toContain('env-secret-91c2')
      expect(result.all, args.join(' ')).not.toContain('url-secret-7f3a')
      expect(result.all, args.join(' ')).not.toContain('param-secret-22d8')
      expect(result.all, args.join(' ')).not.toMatch(STACK_FRAME)
    }

    const human = await ws.run(['check'], { env })
    expect(human.code).toBe(1)
    expect(human.stdout).toMatch(/^fromEnv: FAILED\n\s+Cannot connect to PostgreSQL at 127\.0\.0\.1:1/m)
    expect(human.stdout).toMatch(/^inUrl: FAILED/m)
    expect(human.stdout).toMatch(/^live: ok/m) // one dead server does not hide the others

    const json = await ws.run(['check', '--json'], { env })
    expect(json.code).toBe(1)
    const lines = jsonLines(json.stdout)
    expect(lines).toHaveLength(3)
    expect(lines[0]).toMatchObject({ connection: 'fromEnv', ok: false, code: 'CONNECTION_REFUSED', error: expect.stringContaining('127.0.0.1:1') })
    expect(lines[2]).toMatchObject({ connection: 'live', ok: true })
  })
})
