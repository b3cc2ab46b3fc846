/**
 * Arrays and enums as canonical types (issue 12): PostgreSQL `text[]`,
 * `integer[]`, an enum and an enum array travel to every other kind with
 * `create: true` and back, values identical (canonical JSON array text,
 * enum text) and types kept where the destination has them; a MariaDB SET
 * and ENUM read as array and enum; values outside a destination's enum or
 * SET are per-record errors naming the allowed values.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createConnector } from '../../src/connectors/registry.js'
import type { CanonicalType, EntityInfo, Row } from '../../src/values/canonical.js'
import { openDatasource, type DatasourceKind, type TestDatasource } from '../engine/datasources.js'
import { openManager, readAll } from '../engine/sync-harness.js'

/** Text elements with the characters PostgreSQL's array text quotes and escapes, NULL elements, the empty array. */
const ROWS: Row[] = [
  { id: 1, tags: '["a","b,c","d\\"e","f\\\\g","{h}"," i ","NULL",null,""]', nums: '[1,-2,9007199254740993,null]', mood: 'happy', moods: '["happy","sad"]' },
  { id: 2, tags: '[]', nums: '[]', mood: 'it\'s, ok', moods: '[]' },
  { id: 3, tags: null, nums: null, mood: null, moods: null },
]

const MOODS = ['sad', 'happy', "it's, ok"]

async function writeSource(pg: TestDatasource): Promise<void> {
  await pg.exec(`CREATE TYPE mood AS ENUM ('sad', 'happy', 'it''s, ok')`)
  await pg.exec(`CREATE TABLE src (id integer PRIMARY KEY, tags text[], nums bigint[], mood mood, moods mood[])`)
  await pg.exec(
    `INSERT INTO src VALUES
      (1, ARRAY['a','b,c','d"e','f\\g','{h}',' i ','NULL',NULL,''], '{1,-2,9007199254740993,NULL}', 'happy', '{happy,sad}'),
      (2, '{}', '{}', 'it''s, ok', '{}'),
      (3, NULL, NULL, NULL, NULL)`,
  )
}

/** The rows as the source reads them (an enum array keeps its elements' order). */
function expectedRows(): Row[] {
  return ROWS
}

/**
 * The canonical types each kind keeps for the fields. MySQL: arrays are JSON
 * unless their elements are enum labels a SET can hold (no commas, which
 * "it's, ok" has); SQLite cannot keep an enum's labels, so its enum comes
 * back to PostgreSQL as text.
 */
const TYPES: Record<DatasourceKind, Record<string, CanonicalType>> = {
  postgres: { id: 'integer', tags: 'array', nums: 'array', mood: 'enum', moods: 'array' },
  mysql: { id: 'integer', tags: 'json', nums: 'json', mood: 'enum', moods: 'json' },
  sqlite: { id: 'integer', tags: 'array', nums: 'array', mood: 'enum', moods: 'array' },
  csv: { id: 'integer', tags: 'array', nums: 'array', mood: 'enum', moods: 'array' },
  ndjson: { id: 'integer', tags: 'array', nums: 'array', mood: 'enum', moods: 'array' },
}

async function discoverOne(ds: TestDatasource, entity: string): Promise<EntityInfo> {
  const connector = await createConnector({ name: 'discover', url: ds.url })
  try {
    return await connector.describe(entity)
  } finally {
    await connector.close()
  }
}

function typesOf(info: EntityInfo): Record<string, CanonicalType> {
  return Object.fromEntries(info.fields.map((f) => [f.name, f.type]))
}

function sortById(rows: Row[]): Row[] {
  return [...rows].sort((a, b) => Number(a.id) - Number(b.id))
}

let pg: TestDatasource

beforeAll(async () => {
  pg = await openDatasource('postgres')
  await writeSource(pg)
})

afterAll(async () => {
  await pg?.cleanup()
})

describe('PostgreSQL arrays and enums', () => {
  it('read as canonical arrays and enums with their element types and labels', async () => {
    const info = await discoverOne(pg, 'src')
    expect(info.fields.map((f) => ({ name: f.name, type: f.type, elementType: f.elementType, enumValues: f.enumValues }))).toEqual([
      { name: 'id', type: 'integer', elementType: undefined, enumValues: undefined },
      { name: 'tags', type: 'array', elementType: 'text', enumValues: undefined },
      { name: 'nums', type: 'array', elementType: 'integer', enumValues: undefined },
      { name: 'mood', type: 'enum', elementType: undefined, enumValues: MOODS },
      { name: 'moods', type: 'array', elementType: 'enum', enumValues: MOODS },
    ])
    expect(sortById(await readAll(pg, 'src', ['id']))).toEqual(expectedRows())
  })

  for (const kind of ['postgres', 'mysql', 'sqlite', 'csv', 'ndjson'] as const) {
    it(`postgres → ${kind} → postgres: values identical, types kept where ${kind} has them, idle re-runs change nothing`, async () => {
      const other = kind === 'postgres' ? pg : await openDatasource(kind)
      const there = `from_pg_${kind}`
      const back = `back_from_${kind}`
      const { manager, cleanup } = await openManager(pg, other, [
        { id: 'there', source: { connection: 'src', entity: 'src' }, destination: { connection: 'dst', entity: there, create: true }, keys: ['id'], mode: 'full' },
        { id: 'back', source: { connection: 'dst', entity: there }, destination: { connection: 'src', entity: back, create: true }, keys: ['id'], mode: 'full' },
      ])
      try {
        const first = await manager.run('there')
        expect(first.error).toBeUndefined()
        expect(first).toMatchObject({ status: 'succeeded', created: 3, failed: 0 })
        expect(sortById(await readAll(other, there, ['id']))).toEqual(expectedRows())
        expect(typesOf(await discoverOne(other, there))).toEqual(TYPES[kind])
        const idle = await manager.run('there')
        expect(idle).toMatchObject({ status: 'succeeded', created: 0, updated: 0, unchanged: 3 })

        const returned = await manager.run('back')
        expect(returned.error).toBeUndefined()
        expect(returned).toMatchObject({ status: 'succeeded', created: 3, failed: 0 })
        expect(sortById(await readAll(pg, back, ['id']))).toEqual(expectedRows())
        const backTypes = typesOf(await discoverOne(pg, back))
        // MySQL holds these arrays as JSON, which comes back as jsonb; SQLite keeps no enum labels.
        const expectedBack = kind === 'mysql' ? { ...TYPES.postgres, tags: 'json', nums: 'json', moods: 'json' } : kind === 'sqlite' ? { ...TYPES.postgres, mood: 'text' } : TYPES.postgres
        expect(backTypes).toEqual(expectedBack)
      } finally {
        await cleanup()
        if (other !== pg) await other.cleanup()
      }
    })
  }
})

describe('MariaDB SET and ENUM', () => {
  let my: TestDatasource
  beforeAll(async () => {
    my = await openDatasource('mysql')
    await my.exec(`CREATE TABLE target (id INT PRIMARY KEY, tags SET('a','x') NULL, mood ENUM('sad','happy') NULL)`)
  })
  afterAll(async () => {
    await my?.cleanup()
  })

  it('a PostgreSQL text[] lands in an existing SET column, and values outside the SET or ENUM are record errors naming the allowed values', async () => {
    await pg.exec(`CREATE TABLE to_set (id integer PRIMARY KEY, tags text[], mood text)`)
    await pg.exec(`INSERT INTO to_set VALUES (1, '{x,a}', 'happy'), (2, '{}', NULL), (3, '{a,nope}', 'sad'), (4, '{a}', 'angry')`)
    const { manager, cleanup } = await openManager(pg, my, [
      { id: 'set', source: { connection: 'src', entity: 'to_set' }, destination: { connection: 'dst', entity: 'target' }, keys: ['id'], mode: 'full', maxErrors: 10 },
    ])
    try {
      const result = await manager.run('set')
      expect(result.error).toMatch(/2 record\(s\) rejected/)
      expect(result).toMatchObject({ status: 'partial', created: 2, failed: 2 })
      const errors = await manager.recordErrors({ syncId: 'set' })
      const messages = JSON.stringify(errors)
      expect(messages).toContain("'nope' is not one of the allowed values ('a', 'x')")
      expect(messages).toContain("'angry' is not one of the allowed values ('sad', 'happy')")
      expect(sortById(await readAll(my, 'target', ['id']))).toEqual([
        { id: 1, tags: '["a","x"]', mood: 'happy' },
        { id: 2, tags: '[]', mood: null },
      ])
    } finally {
      await cleanup()
    }
  })
})
