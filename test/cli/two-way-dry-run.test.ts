/**
 * `syncline run --dry-run` on a two-way sync lists the operations planned
 * on each side, under the side they would be written to, and writes nothing.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { BUILD_TIMEOUT_MS, ensureBuilt } from './build.js'
import { workspace, type Workspace } from './workspace.js'

beforeAll(ensureBuilt, BUILD_TIMEOUT_MS)
let ws: Workspace
afterEach(() => ws?.remove())

const TABLE = 'CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, updated_at TEXT)'

describe('syncline run --dry-run, two-way', () => {
  it('lists the destination’s and the source’s planned operations by side', async () => {
    ws = workspace()
    ws.sqlite('a.db', `${TABLE}; INSERT INTO items VALUES (1, 'from a', '2026-01-01T00:00:01.000000Z'), (2, 'doomed', '2026-01-01T00:00:02.000000Z');`)
    ws.sqlite('b.db', `${TABLE}; INSERT INTO items VALUES (2, 'doomed', '2026-01-01T00:00:02.000000Z');`)
    ws.write(
      'syncline.yaml',
      `connections:
  a: { url: "sqlite:./a.db" }
  b: { url: "sqlite:./b.db" }
syncs:
  - id: items
    source: { connection: a, entity: items }
    destination: { connection: b, entity: items }
    mode: incremental
    direction: two-way
    cursor: updated_at
    lookback: 0s
`,
    )
    expect((await ws.run(['run', '-q'])).code).toBe(0)
    ws.sqlite('b.db', `INSERT INTO items VALUES (3, 'from b', '2026-01-01T00:00:03.000000Z'); DELETE FROM items WHERE id = 2;`)
    ws.sqlite('a.db', `UPDATE items SET name = 'edited in a', updated_at = '2026-01-01T00:00:04.000000Z' WHERE id = 1;`)

    const dry = await ws.run(['run', '--dry-run'])
    expect(dry.code).toBe(0)
    expect(dry.stdout).toMatch(/would be: 1 created, 1 updated, 1 deleted/)
    expect(dry.stdout).toMatch(/would update 1 at the destination:\n\s+\{"id":1,"name":"edited in a"/)
    expect(dry.stdout).toMatch(/would create 1 at the source:\n\s+\{"id":3,"name":"from b"/)
    expect(dry.stdout).toMatch(/would delete 1 at the source:\n\s+\[2\]/)
    expect(ws.sqliteRows('a.db', 'SELECT id, name FROM items ORDER BY id')).toEqual([
      { id: 1, name: 'edited in a' },
      { id: 2, name: 'doomed' },
    ])
    expect(ws.sqliteRows('b.db', 'SELECT id, name FROM items ORDER BY id')).toEqual([
      { id: 1, name: 'from a' },
      { id: 3, name: 'from b' },
    ])
  })
})
