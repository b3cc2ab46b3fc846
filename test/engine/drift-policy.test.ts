/**
 * The schema drift policy (`schema: evolve | ignore | fail`) on a source
 * field added, dropped or renamed between two full runs, into real
 * PostgreSQL, MariaDB and SQLite destinations; and its default by origin:
 * a table syncline created evolves, an existing one fails. A dropped or
 * renamed field's destination values are never turned into NULLs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SyncResult } from '../../src/engine/run-sync.js'
import type { DriftPolicy, SyncPlanInput } from '../../src/plan/schema.js'
import type { SyncManager } from '../../src/sync-manager.js'
import { openDatasource, type DatasourceKind, type TestDatasource } from './datasources.js'
import { openManager, readAll } from './sync-harness.js'

type Change = 'added' | 'dropped' | 'renamed'

const CHANGES: Record<Change, string[]> = {
  added: ['ALTER TABLE $t ADD COLUMN extra TEXT', "UPDATE $t SET extra = 'x' || id"],
  dropped: ['ALTER TABLE $t DROP COLUMN note'],
  renamed: ['ALTER TABLE $t RENAME COLUMN note TO memo'],
}

/** What the second run does: fails naming this, or succeeds with a note matching it. */
const EXPECTED: Record<DriftPolicy, Record<Change, { fails: RegExp } | { note: RegExp }>> = {
  evolve: {
    added: { note: /added field\(s\) 'extra'/ },
    dropped: { note: /'note' \(destination field 'note'\) gone .* left as they are/ },
    renamed: { fails: /\{ source: memo, destination: note \}.*likely rename/s },
  },
  ignore: {
    added: { note: /new source field\(s\) 'extra' .* left out/ },
    dropped: { note: /'note' \(destination field 'note'\) gone/ },
    renamed: { note: /'note' \(destination field 'note'\) gone/ },
  },
  fail: {
    added: { fails: /new source field\(s\) 'extra'.*`schema: evolve`.*`schema: ignore`.*`schema: fail`/s },
    dropped: { fails: /source field 'note' is gone.*`schema: ignore`/s },
    renamed: { fails: /\{ source: memo, destination: note \}/ },
  },
}

const DESTINATIONS: DatasourceKind[] = ['postgres', 'mysql', 'sqlite']
const POLICIES: DriftPolicy[] = ['evolve', 'ignore', 'fail']

let tables = 0

/** A realtime run until its snapshot comparison is done and it streams, then stopped: its result. */
async function streamOnce(manager: SyncManager, id: string): Promise<SyncResult> {
  const controller = new AbortController()
  let streaming: () => void = () => undefined
  const started = new Promise<void>((resolve) => (streaming = resolve))
  const result = manager.run(id, { signal: controller.signal, onProgress: (p) => p.phase === 'stream' && streaming() })
  // A run that ends early (a failure) must not leave the test waiting for the stream.
  void result.finally(() => streaming())
  await started
  controller.abort()
  return result
}

for (const kind of DESTINATIONS) {
  describe(`schema drift into ${kind}`, () => {
    let src: TestDatasource
    let dst: TestDatasource
    beforeAll(async () => {
      src = await openDatasource('sqlite', 'src')
      dst = await openDatasource(kind, 'dst')
    })
    afterAll(async () => {
      await src?.cleanup()
      await dst?.cleanup()
    })

    /** A new source table with three rows; its name. */
    async function items(): Promise<string> {
      const name = `drift_${++tables}`
      await src.exec(`CREATE TABLE ${name} (id INTEGER PRIMARY KEY, name TEXT, note TEXT)`)
      for (const id of [1, 2, 3]) await src.exec(`INSERT INTO ${name} VALUES (?, ?, ?)`, [id, `item ${id}`, `note ${id}`])
      return name
    }
    const columns = async (entity: string) => Object.keys((await readAll(dst, entity, ['id']))[0] ?? {}).sort()
    const rows = async (entity: string): Promise<Record<string, unknown>[]> => readAll(dst, entity, ['id'])

    it('applies each policy to an added, a dropped and a renamed source field', async () => {
      const cases = POLICIES.flatMap((policy) => (Object.keys(CHANGES) as Change[]).map((change) => ({ policy, change, entity: '' })))
      for (const c of cases) c.entity = await items()
      const syncs: SyncPlanInput[] = cases.map((c) => ({
        id: `${c.policy}-${c.change}`,
        source: { connection: 'src', entity: c.entity },
        destination: { connection: 'dst', entity: c.entity, create: true },
        schema: c.policy,
      }))
      const { manager, cleanup } = await openManager(src, dst, syncs)
      try {
        for (const c of cases) {
          const id = `${c.policy}-${c.change}`
          expect(await manager.run(id)).toMatchObject({ status: 'succeeded', created: 3 })
          for (const sql of CHANGES[c.change]) await src.exec(sql.replaceAll('$t', c.entity))
          // A change every full run must copy, so a run that wrote NULLs would show.
          await src.exec(`UPDATE ${c.entity} SET name = name || '!'`)

          const expected = EXPECTED[c.policy][c.change]
          const result = await manager.run(id)
          const label = `${id} into ${kind}`
          if ('fails' in expected) {
            expect(result, label).toMatchObject({ status: 'failed', errorCode: 'SCHEMA_DRIFT', failure: 'config', updated: 0 })
            expect(result.error, label).toMatch(expected.fails)
            expect((await rows(c.entity)).map((r) => r.name), label).toEqual(['item 1', 'item 2', 'item 3'])
            continue
          }
          expect(result, label).toMatchObject({ status: 'succeeded', updated: 3 })
          expect(result.notes?.join('\n'), label).toMatch(expected.note)
          const got = await rows(c.entity)
          expect(got.map((r) => r.name), label).toEqual(['item 1!', 'item 2!', 'item 3!'])
          if (c.change === 'added') {
            if (c.policy === 'evolve') expect(got.map((r) => r.extra), label).toEqual(['x1', 'x2', 'x3'])
            else expect(await columns(c.entity), label).toEqual(['id', 'name', 'note'])
          } else {
            // Dropped or renamed at the source: the destination keeps what it had.
            expect(got.map((r) => r.note), label).toEqual(['note 1', 'note 2', 'note 3'])
            expect(await columns(c.entity), label).toEqual(['id', 'name', 'note'])
          }
          // The drift is settled: the next run is quiet and changes nothing.
          const settled = await manager.run(id)
          expect(settled, label).toMatchObject({ status: 'succeeded', updated: 0 })
          expect(settled.notes, label).toBeUndefined()
        }
      } finally {
        await cleanup()
      }
    })

    it('fills a field added under evolve into rows an incremental sync delivered earlier', async () => {
      const entity = `drift_${++tables}`
      await src.exec(`CREATE TABLE ${entity} (id INTEGER PRIMARY KEY, name TEXT, updated_at TEXT NOT NULL)`)
      for (const id of [1, 2, 3]) await src.exec(`INSERT INTO ${entity} VALUES (?, ?, ?)`, [id, `item ${id}`, `2026-01-01T00:00:0${id}Z`])
      const { manager, cleanup } = await openManager(src, dst, [
        { id: 'inc', source: { connection: 'src', entity }, destination: { connection: 'dst', entity, create: true }, mode: 'incremental', cursor: 'updated_at' },
      ])
      try {
        expect(await manager.run('inc')).toMatchObject({ status: 'succeeded', created: 3 })
        // Added without touching the cursor: the watermark alone would never read these rows again.
        for (const sql of CHANGES.added) await src.exec(sql.replaceAll('$t', entity))
        const result = await manager.run('inc')
        expect(result).toMatchObject({ status: 'succeeded', updated: 3 })
        expect(result.notes?.join('\n')).toMatch(/'extra' were added at the source since the last run and now map to .* refilling it by a full compare/)
        expect((await rows(entity)).map((r) => r.extra)).toEqual(['x1', 'x2', 'x3'])
      } finally {
        await cleanup()
      }
    })

    it('a realtime sync follows the policy when it starts again: a column added while it was stopped is added and filled', async () => {
      const entity = await items()
      const { manager, cleanup } = await openManager(src, dst, [
        { id: 'live', source: { connection: 'src', entity }, destination: { connection: 'dst', entity, create: true }, mode: 'realtime' },
      ])
      try {
        expect(await streamOnce(manager, 'live')).toMatchObject({ status: 'succeeded', created: 3 })
        for (const sql of CHANGES.added) await src.exec(sql.replaceAll('$t', entity))
        const again = await streamOnce(manager, 'live')
        expect(again).toMatchObject({ status: 'succeeded', updated: 3 })
        expect(again.notes?.join('\n')).toMatch(/added field\(s\) 'extra'/)
        expect((await rows(entity)).map((r) => r.extra)).toEqual(['x1', 'x2', 'x3'])
      } finally {
        await cleanup()
      }
    })

    it('evolves a table it created by default, and fails on an existing one', async () => {
      const created = await items()
      const existing = await items()
      await dst.exec(`CREATE TABLE ${existing} (id INTEGER PRIMARY KEY, name TEXT, note TEXT)`)
      const { manager, cleanup } = await openManager(src, dst, [
        { id: 'created', source: { connection: 'src', entity: created }, destination: { connection: 'dst', entity: created, create: true } },
        { id: 'existing', source: { connection: 'src', entity: existing }, destination: { connection: 'dst', entity: existing, create: true } },
      ])
      try {
        for (const id of ['created', 'existing']) expect(await manager.run(id)).toMatchObject({ status: 'succeeded', created: 3 })
        for (const entity of [created, existing]) for (const sql of CHANGES.added) await src.exec(sql.replaceAll('$t', entity))

        // validate --live and a dry run say what would happen, and change nothing.
        const explained = await manager.explainSchemaDrift()
        expect(explained).toEqual([
          expect.stringMatching(/^Sync 'created': Schema drift \(evolve\): a real run would add field\(s\) 'extra'/),
          expect.stringMatching(/^The next run would fail with SCHEMA_DRIFT: Sync 'existing': new source field\(s\) 'extra'/),
        ])
        const dry = await manager.run('created', { dryRun: true })
        expect(dry).toMatchObject({ status: 'succeeded' })
        expect(dry.notes?.join('\n')).toMatch(/a real run would add field\(s\) 'extra'/)
        expect(await columns(created)).toEqual(['id', 'name', 'note'])

        expect(await manager.run('created')).toMatchObject({ status: 'succeeded', updated: 3 })
        expect((await rows(created)).map((r) => r.extra)).toEqual(['x1', 'x2', 'x3'])
        const failed = await manager.run('existing')
        expect(failed).toMatchObject({ status: 'failed', errorCode: 'SCHEMA_DRIFT' })
        expect(failed.error).toMatch(/schema: fail is the default for an existing destination/)
        expect(await columns(existing)).toEqual(['id', 'name', 'note'])
      } finally {
        await cleanup()
      }
    })
  })
}
