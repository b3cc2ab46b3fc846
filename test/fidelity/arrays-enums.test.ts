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
import type { EntityInfo, FieldInfo, Row } from '../../src/values/canonical.js'
import { field } from '../conformance/fixtures.js'
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

async function discoverOne(ds: TestDatasource, entity: string): Promise<EntityInfo> {
  const connector = await createConnector({ name: 'discover', url: ds.url })
  try {
    return await connector.describe(entity)
  } finally {
    await connector.close()
  }
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

  it('create: true makes one enum type per field, also when <table>_<field> is longer than 63 bytes, and reuses it on a re-run', async () => {
    const long = `moods_of_a_table_whose_name_is_long_${'é'.repeat(10)}`
    const { manager, cleanup } = await openManager(pg, pg, [
      {
        id: 'long',
        source: { connection: 'src', entity: 'src' },
        destination: { connection: 'dst', entity: long, create: true },
        keys: ['id'],
        mode: 'full',
        mapping: { fields: [{ source: 'id', destination: 'id' }, { source: 'mood', destination: 'mood_with_a_long_field_name_one' }, { source: 'mood', destination: 'mood_with_a_long_field_name_two' }] },
      },
    ])
    try {
      expect((await manager.run('long')).error).toBeUndefined()
      const info = await discoverOne(pg, long)
      const one = info.fields.find((f) => f.name === 'mood_with_a_long_field_name_one')
      const two = info.fields.find((f) => f.name === 'mood_with_a_long_field_name_two')
      expect([one!.type, one!.enumValues, two!.type, two!.enumValues]).toEqual(['enum', MOODS, 'enum', MOODS])
      expect(one!.nativeType).not.toBe(two!.nativeType)
      expect(await manager.run('long', { full: true })).toMatchObject({ status: 'succeeded', unchanged: 3 })
    } finally {
      await cleanup()
    }
  })

})

/** The fields of the pair fixture: enum labels a SET can hold (no commas), so MySQL keeps every type it can. */
const LABELS = ['sad', 'happy', 'ok']
const PAIR_FIELDS: FieldInfo[] = [
  field('id', 'integer', { nullable: false }),
  field('tags', 'array', { elementType: 'text' }),
  field('nums', 'array', { elementType: 'integer' }),
  field('mood', 'enum', { enumValues: LABELS }),
  field('moods', 'array', { elementType: 'enum', enumValues: LABELS }),
]
/** Enum arrays in label order: a SET reads its members in that order. */
const PAIR_ROWS: Row[] = ROWS.map((r): Row => ({ ...r, mood: r.id === 2 ? 'ok' : (r.mood ?? null), moods: r.id === 1 ? '["sad","happy"]' : (r.moods ?? null) }))

type Shape = Pick<FieldInfo, 'type' | 'elementType' | 'enumValues'>

/** What a kind makes of a field with `create: true` (docs/values.md, "Arrays and enums"). */
function kept(kind: DatasourceKind, f: Shape): Shape {
  const labels = f.enumValues
  switch (kind) {
    case 'postgres':
      if (f.type === 'enum') return labels ? { type: 'enum', enumValues: labels } : { type: 'text' }
      if (f.type === 'array') return f.elementType === 'enum' && labels ? { type: 'array', elementType: 'enum', enumValues: labels } : { type: 'array', elementType: f.elementType === 'enum' ? 'text' : f.elementType }
      return { type: f.type }
    case 'mysql':
      if (f.type === 'enum') return labels ? { type: 'enum', enumValues: labels } : { type: 'text' }
      if (f.type === 'array') return f.elementType === 'enum' && labels && !labels.some((l) => l.includes(',')) ? { type: 'array', elementType: 'enum', enumValues: labels } : { type: 'json' }
      return { type: f.type }
    case 'sqlite':
      if (f.type === 'array') return { type: 'array', elementType: f.elementType }
      return { type: f.type }
    case 'csv':
    case 'ndjson':
      return f
  }
}

function shapeOf(f: Shape): Shape {
  const out: Shape = { type: f.type }
  if (f.elementType !== undefined) out.elementType = f.elementType
  if (f.enumValues !== undefined) out.enumValues = f.enumValues
  return out
}

const KINDS: readonly DatasourceKind[] = ['postgres', 'mysql', 'sqlite', 'csv', 'ndjson']
const pairSources = new Map<DatasourceKind, Promise<TestDatasource>>()

/** One datasource per kind holding the pair fixture, written through its connector. */
function pairSource(kind: DatasourceKind): Promise<TestDatasource> {
  let opened = pairSources.get(kind)
  if (!opened) {
    opened = (async () => {
      const ds = await openDatasource(kind)
      const connector = await createConnector({ name: 'fixture', url: ds.url })
      try {
        await connector.ensureEntity('pairs', PAIR_FIELDS, ['id'])
        await connector.apply('pairs', { upserts: PAIR_ROWS, deletes: [] }, { keys: ['id'] })
        await connector.commit?.('pairs')
      } finally {
        await connector.close()
      }
      return ds
    })()
    pairSources.set(kind, opened)
  }
  return opened
}

afterAll(async () => {
  for (const opened of pairSources.values()) await (await opened.catch(() => undefined))?.cleanup()
})

describe('every ordered pair and back', () => {
  for (const a of KINDS) {
    for (const b of KINDS) {
      it(`${a} → ${b} → ${a}: values identical, types kept where the kind has them, idle re-runs change nothing`, async () => {
        const src = await pairSource(a)
        const dst = await pairSource(b)
        const there = `from_${a}`
        const back = `back_from_${b}`
        const { manager, cleanup } = await openManager(src, dst, [
          { id: 'there', source: { connection: 'src', entity: 'pairs' }, destination: { connection: 'dst', entity: there, create: true }, keys: ['id'], mode: 'full' },
          { id: 'back', source: { connection: 'dst', entity: there }, destination: { connection: 'src', entity: back, create: true }, keys: ['id'], mode: 'full' },
        ])
        try {
          const sourceShapes = (await discoverOne(src, 'pairs')).fields.map(shapeOf)
          expect(sourceShapes).toEqual(PAIR_FIELDS.map((f) => shapeOf(kept(a, f))))
          const first = await manager.run('there')
          expect(first.error).toBeUndefined()
          expect(first).toMatchObject({ status: 'succeeded', created: 3 })
          expect(sortById(await readAll(dst, there, ['id']))).toEqual(PAIR_ROWS)
          const thereShapes = (await discoverOne(dst, there)).fields.map(shapeOf)
          expect(thereShapes).toEqual(sourceShapes.map((f) => shapeOf(kept(b, f))))
          expect(await manager.run('there')).toMatchObject({ status: 'succeeded', created: 0, updated: 0, unchanged: 3 })

          const returned = await manager.run('back')
          expect(returned.error).toBeUndefined()
          expect(returned).toMatchObject({ status: 'succeeded', created: 3 })
          expect(sortById(await readAll(src, back, ['id']))).toEqual(PAIR_ROWS)
          expect((await discoverOne(src, back)).fields.map(shapeOf)).toEqual(thereShapes.map((f) => shapeOf(kept(a, f))))
          expect(await manager.run('back')).toMatchObject({ status: 'succeeded', created: 0, updated: 0, unchanged: 3 })
        } finally {
          await cleanup()
        }
      })
    }
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

  it('a SET and an ENUM travel to PostgreSQL (an enum array and an enum type) and back, types and values identical', async () => {
    await my.exec(`CREATE TABLE native (id INT PRIMARY KEY, perms SET('read','write','it''s') NULL, size ENUM('s','m','l, xl') NULL)`)
    await my.exec(`INSERT INTO native VALUES (1, 'write,read', 'l, xl'), (2, '', 's'), (3, NULL, NULL), (4, 'it''s', 'm')`)
    const { manager, cleanup } = await openManager(my, pg, [
      { id: 'there', source: { connection: 'src', entity: 'native' }, destination: { connection: 'dst', entity: 'from_mysql', create: true }, keys: ['id'], mode: 'full' },
      { id: 'back', source: { connection: 'dst', entity: 'from_mysql' }, destination: { connection: 'src', entity: 'back_from_pg', create: true }, keys: ['id'], mode: 'full' },
    ])
    try {
      const expected = [
        // A SET reads in its members' order, whatever order it was written in.
        { id: 1, perms: '["read","write"]', size: 'l, xl' },
        { id: 2, perms: '[]', size: 's' },
        { id: 3, perms: null, size: null },
        { id: 4, perms: '["it\'s"]', size: 'm' },
      ]
      expect(sortById(await readAll(my, 'native', ['id']))).toEqual(expected)
      expect((await manager.run('there')).error).toBeUndefined()
      expect(sortById(await readAll(pg, 'from_mysql', ['id']))).toEqual(expected)
      const there = await discoverOne(pg, 'from_mysql')
      expect(there.fields.map((f) => [f.name, f.type, f.elementType, f.enumValues, f.nativeType])).toEqual([
        ['id', 'integer', undefined, undefined, 'integer'], // INT keeps its width (create: true)
        ['perms', 'array', 'enum', ['read', 'write', "it's"], 'from_mysql_perms[]'],
        ['size', 'enum', undefined, ['s', 'm', 'l, xl'], 'from_mysql_size'],
      ])
      expect(await manager.run('there')).toMatchObject({ status: 'succeeded', unchanged: 4 })
      expect((await manager.run('back')).error).toBeUndefined()
      expect(sortById(await readAll(my, 'back_from_pg', ['id']))).toEqual(expected)
      const back = await discoverOne(my, 'back_from_pg')
      expect(back.fields.map((f) => [f.name, f.type, f.enumValues])).toEqual([
        ['id', 'integer', undefined],
        ['perms', 'array', ['read', 'write', "it's"]],
        ['size', 'enum', ['s', 'm', 'l, xl']],
      ])
    } finally {
      await cleanup()
    }
  })

  it('a PostgreSQL enum into an existing ENUM without one of its labels: that record is rejected naming the allowed values', async () => {
    await pg.exec(`CREATE TYPE size AS ENUM ('s', 'm', 'xl')`)
    await pg.exec(`CREATE TABLE sizes (id integer PRIMARY KEY, size size)`)
    await pg.exec(`INSERT INTO sizes VALUES (1, 's'), (2, 'xl'), (3, 'm')`)
    await my.exec(`CREATE TABLE sizes (id INT PRIMARY KEY, size ENUM('s','m') NULL)`)
    const { manager, cleanup } = await openManager(pg, my, [
      { id: 'sizes', source: { connection: 'src', entity: 'sizes' }, destination: { connection: 'dst', entity: 'sizes' }, keys: ['id'], mode: 'full', maxErrors: 10 },
    ])
    try {
      expect(await manager.run('sizes')).toMatchObject({ status: 'partial', created: 2, failed: 1 })
      const errors = JSON.stringify(await manager.recordErrors({ syncId: 'sizes' }))
      expect(errors).toContain("size: 'xl' is not one of the allowed values ('s', 'm')")
      expect(sortById(await readAll(my, 'sizes', ['id']))).toEqual([
        { id: 1, size: 's' },
        { id: 3, size: 'm' },
      ])
    } finally {
      await cleanup()
    }
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
