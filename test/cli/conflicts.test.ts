/**
 * `syncline conflicts` as a person uses it on a two-way SQLite <-> SQLite
 * sync with `conflict: manual`: the run reports the conflict and leaves both
 * sides; the list shows both versions and the command to settle it;
 * `resolve ID --take destination` writes the destination's row to the
 * source; status and history show the counts. Bad usage exits 2.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { BUILD_TIMEOUT_MS, ensureBuilt } from './build.js'
import { jsonLines } from './cli.js'
import { workspace, type Workspace } from './workspace.js'

beforeAll(ensureBuilt, BUILD_TIMEOUT_MS)

let ws: Workspace
afterEach(() => ws?.remove())

const PLAN = `connections:
  shop: { url: sqlite:./shop.db }
  office: { url: sqlite:./office.db }
syncs:
  - id: notes
    source: { connection: shop, entity: notes }
    destination: { connection: office, entity: notes }
    mode: incremental
    direction: two-way
    cursor: updated_at
    conflict: manual
`
const TABLE = 'CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL, updated_at TEXT);'

describe('syncline conflicts', () => {
  it('lists a manual conflict with both versions and settles it with --take', async () => {
    ws = workspace()
    ws.write('syncline.yaml', PLAN)
    ws.sqlite('shop.db', `${TABLE} INSERT INTO notes VALUES (1, 'first', '2026-01-01T00:00:01.000000Z');`)
    ws.sqlite('office.db', TABLE)
    expect((await ws.run(['run', '--json'])).code).toBe(0)
    ws.sqlite('shop.db', `UPDATE notes SET body = 'shop edit', updated_at = '2026-01-01T00:01:00.000000Z' WHERE id = 1`)
    ws.sqlite('office.db', `UPDATE notes SET body = 'office edit', updated_at = '2026-01-01T00:02:00.000000Z' WHERE id = 1`)

    const run = await ws.run(['run', '--json'])
    expect(run.code).toBe(0)
    expect(jsonLines(run.stdout)[0]).toMatchObject({ id: 'notes', status: 'succeeded', conflicts: 1, updated: 0 })
    expect(ws.sqliteRows('shop.db', 'SELECT body FROM notes')).toEqual([{ body: 'shop edit' }])
    expect(ws.sqliteRows('office.db', 'SELECT body FROM notes')).toEqual([{ body: 'office edit' }])

    const list = await ws.run(['conflicts'])
    expect(list.code).toBe(0)
    expect(list.stdout).toMatch(/notes\s+record 1\s+update\/update/)
    expect(list.stdout).toContain('"body":"shop edit"')
    expect(list.stdout).toContain('"body":"office edit"')
    const [conflict] = jsonLines((await ws.run(['conflicts', '--json'])).stdout)
    const id = String(conflict!.id)
    expect(list.stdout).toContain(`syncline conflicts resolve ${id} --take source|destination`)

    const status = await ws.run(['status'])
    expect(status.stdout).toContain('1 open conflict(s)')
    expect((await ws.run(['history', 'notes'])).stdout).toContain('conflicts 1')

    const bad = await ws.run(['conflicts', 'resolve', id, '--take', 'both'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain("--take source or --take destination (not 'both')")
    expect((await ws.run(['conflicts', 'resolve', 'no-such-id', '--take', 'source'])).code).toBe(2)

    const resolved = await ws.run(['conflicts', 'resolve', id, '--take', 'destination'])
    expect(resolved.code).toBe(0)
    expect(resolved.stdout).toContain("took the destination's row")
    expect(ws.sqliteRows('shop.db', 'SELECT body FROM notes')).toEqual([{ body: 'office edit' }])
    expect((await ws.run(['conflicts'])).stdout).toContain('No open conflicts.')
    expect(jsonLines((await ws.run(['run', '--json'])).stdout)[0]).toMatchObject({ conflicts: 0, created: 0, updated: 0, deleted: 0 })
  })

  it('validate explains a transform that cannot be written back, and a two-way sync without incremental mode', async () => {
    ws = workspace()
    ws.write(
      'syncline.yaml',
      `${PLAN.replace('mode: incremental', 'mode: full')}    mapping:
      fields:
        - { source: body, destination: title, transform: "UPPER(body)" }
`,
    )
    const result = await ws.run(['validate'])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('syncs[0].mode: direction two-way reads each side')
    expect(result.stderr).toContain("syncs[0].mapping.fields[0].transform: a two-way sync writes every field back to the source, but the transform 'UPPER(body)' cannot be undone")
    expect(result.stderr).toContain('oneWay: true')
  })
})
