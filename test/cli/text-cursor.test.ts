/**
 * Issue 6, item 2: a cursor kept as text compares as text. Timestamps in two
 * spellings then sort differently from time (`2025-01-06 13:00:00` before
 * `2025-01-06T12:00:00Z`), and the row updated later was never read.
 * A column declared as a timestamp is compared as instants; a TEXT column in
 * mixed spellings is refused by `validate --live` and `run`, naming the
 * values and the fix, and applying that fix lets the row arrive.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { BUILD_TIMEOUT_MS, ensureBuilt } from './build.js'
import { jsonLines, STACK_FRAME } from './cli.js'
import { workspace, type Workspace } from './workspace.js'

beforeAll(ensureBuilt, BUILD_TIMEOUT_MS)

let ws: Workspace
afterEach(() => ws?.remove())

const PLAN = `connections:
  shop: { url: "sqlite:./shop.db" }
  backup: { url: "sqlite:./backup.db" }
syncs:
  - id: items
    source: { connection: shop, entity: items }
    destination: { connection: backup, entity: items, create: true }
    mode: incremental
    cursor: updated_at
`

/** The table: three rows at `2025-01-06T12:00:00Z`, the cursor declared as `declared`. */
function itemsFixture(declared: string): void {
  ws = workspace()
  ws.sqlite(
    'shop.db',
    `CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, updated_at ${declared} NOT NULL);
     INSERT INTO items VALUES (1, 'one', '2025-01-06T12:00:00Z'), (2, 'two', '2025-01-06T12:00:00Z'), (3, 'three', '2025-01-06T12:00:00Z');`,
  )
  ws.write('syncline.yaml', PLAN)
}

/** A later update written with a space instead of `T`, as many programs write it. */
const LATER_UPDATE = `UPDATE items SET name = 'two, renamed', updated_at = '2025-01-06 13:00:00' WHERE id = 2`

function backupName(id: number): string | undefined {
  return ws.sqliteRows<{ name: string }>('backup.db', 'SELECT name FROM items WHERE id = ?', [id])[0]?.name
}

describe('a text cursor holding timestamps in two spellings', () => {
  it('is refused by run and validate --live, naming both values and the fix; after the fix the row arrives', async () => {
    itemsFixture('TEXT')
    const first = await ws.run(['run', '--json'])
    expect(first.code, first.all).toBe(0)
    expect(jsonLines(first.stdout)[0]).toMatchObject({ status: 'succeeded', created: 3 })

    ws.sqlite('shop.db', LATER_UPDATE)
    const refused = await ws.run(['run'])
    expect(refused.code, refused.all).toBe(2)
    expect(refused.all).toContain('syncs[0].cursor')
    expect(refused.all).toContain(`'2025-01-06 13:00:00' sorts before '2025-01-06T12:00:00Z' as text, though it is later in time`)
    expect(refused.all).toContain(`UPDATE "items" SET "updated_at" = strftime('%Y-%m-%dT%H:%M:%fZ', "updated_at")`)
    expect(refused.all).not.toMatch(STACK_FRAME)
    expect(backupName(2)).toBe('two') // nothing was written

    const validate = await ws.run(['validate', '--live'])
    expect(validate.code, validate.all).toBe(2)
    expect(validate.all).toContain('syncs[0].cursor')
    expect(validate.all).toContain(`'2025-01-06 13:00:00' sorts before '2025-01-06T12:00:00Z'`)

    // The fix the message gives: one spelling in every row.
    ws.sqlite('shop.db', `UPDATE "items" SET "updated_at" = strftime('%Y-%m-%dT%H:%M:%fZ', "updated_at")`)
    expect((await ws.run(['validate', '--live'])).code).toBe(0)
    const fixed = await ws.run(['run', '--json'])
    expect(fixed.code, fixed.all).toBe(0)
    expect(jsonLines(fixed.stdout)[0]).toMatchObject({ status: 'succeeded', updated: 1 })
    expect(backupName(2)).toBe('two, renamed')
  })

  it('declared DATETIME, is compared as instants: the row updated in the other spelling arrives', async () => {
    itemsFixture('DATETIME')
    expect((await ws.run(['run'])).code).toBe(0)
    ws.sqlite('shop.db', LATER_UPDATE)
    expect((await ws.run(['validate', '--live'])).code).toBe(0)
    const second = await ws.run(['run', '--json'])
    expect(second.code, second.all).toBe(0)
    expect(jsonLines(second.stdout)[0]).toMatchObject({ status: 'succeeded', updated: 1 })
    expect(backupName(2)).toBe('two, renamed')
  })
})
