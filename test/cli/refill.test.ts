/**
 * Issue 6, items 1 and 4, as a user meets them: an incremental sync whose
 * destination lost rows (dropped, emptied, partly deleted, a CSV file
 * removed) is refilled by the next run, which says so; a source column that
 * an earlier run mapped and that was renamed stops the run naming the field,
 * the entity and the fix, with `--full` too.
 */
import { rmSync } from 'node:fs'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { BUILD_TIMEOUT_MS, ensureBuilt } from './build.js'
import { jsonLines, STACK_FRAME } from './cli.js'
import { fillItems, workspace, type Workspace } from './workspace.js'

beforeAll(ensureBuilt, BUILD_TIMEOUT_MS)

let ws: Workspace
afterEach(() => ws?.remove())

function plan(extra = '', destination = 'backup'): string {
  return `connections:
  shop:
    url: sqlite:./shop.db
  backup:
    url: sqlite:./backup.db
  files:
    url: csv:./out
syncs:
  - id: items
    source: { connection: shop, entity: items }
    destination: { connection: ${destination}, entity: items, create: true }
    mode: incremental
    cursor: updated_at
    batchSize: 4
${extra}`
}

function setup(extra = '', destination = 'backup'): void {
  ws = workspace()
  fillItems(ws.path('shop.db'), 10)
  ws.sqlite('backup.db', '')
  ws.write('syncline.yaml', plan(extra, destination))
}

const ids = (rows: { id: number | bigint }[]) => rows.map((r) => Number(r.id))
const backupIds = () => ids(ws.sqliteRows<{ id: number }>('backup.db', 'SELECT id FROM items ORDER BY id'))
const ALL = Array.from({ length: 10 }, (_, i) => i + 1)

async function runJson(args: string[] = []): Promise<Record<string, unknown>> {
  const result = await ws.run(['run', 'items', '--json', ...args])
  expect(result.code, result.all).toBe(0)
  return jsonLines(result.stdout)[0]!
}

describe('syncline run refills an incremental destination that lost rows', () => {
  it('after the destination table was dropped (create: true recreates it empty)', async () => {
    setup()
    expect(await runJson()).toMatchObject({ status: 'succeeded', created: 10 })
    ws.sqlite('backup.db', 'DROP TABLE items')

    const again = await ws.run(['run', 'items'])
    expect(again.code, again.all).toBe(0)
    expect(backupIds()).toEqual(ALL)
    expect(again.stdout).toMatch(/items: succeeded .* 10 created/)
    expect(again.stdout).toMatch(/refill/i)
    expect(again.stdout).toContain('items')
    // Later runs are back to reading changes only, with nothing to refill.
    const later = await runJson()
    expect(later).toMatchObject({ status: 'succeeded', created: 0 })
    expect(later).not.toHaveProperty('notes')
  })

  it('after the destination was emptied with delete from; the note is in --json and in history', async () => {
    setup()
    await runJson()
    ws.sqlite('backup.db', 'DELETE FROM items')

    const line = await runJson()
    expect(line).toMatchObject({ status: 'succeeded', created: 10 })
    expect(line.notes).toEqual([expect.stringMatching(/refill/i)])
    expect(backupIds()).toEqual(ALL)
    const history = await ws.run(['history', 'items', '--json'])
    expect(jsonLines(history.stdout)[0]).toMatchObject({ kind: 'run', created: 10, notes: line.notes })
    expect((await ws.run(['history', 'items'])).stdout).toMatch(/refill/i)
  })

  it('with deletes: ignore, after some rows were deleted at the destination (fewer rows than delivered)', async () => {
    setup('    deletes: ignore\n')
    await runJson()
    ws.sqlite('backup.db', 'DELETE FROM items WHERE id IN (3, 7)')
    const line = await runJson()
    expect(line).toMatchObject({ status: 'succeeded', created: 2 })
    expect(line.notes).toEqual([expect.stringMatching(/8 rows.*10/)])
    expect(backupIds()).toEqual(ALL)
  })

  it('when another writer added rows, hiding the loss from the row count: the key pass finds the missing keys', async () => {
    setup()
    await runJson()
    ws.sqlite('backup.db', `DELETE FROM items WHERE id = 4; INSERT INTO items VALUES (99, 'not from the source', '2026-01-01T00:00:00.000Z')`)
    const line = await runJson()
    expect(line).toMatchObject({ status: 'succeeded', created: 1, deleted: 1 })
    expect(line.notes).toEqual([expect.stringMatching(/1 source row.* missing/)])
    expect(backupIds()).toEqual(ALL)
  })

  it('after the CSV destination file was deleted', async () => {
    setup('', 'files')
    await runJson()
    rmSync(ws.path('out/items.csv'))
    const line = await runJson()
    expect(line).toMatchObject({ status: 'succeeded', created: 10 })
    expect(line.notes).toEqual([expect.stringMatching(/refill/i)])
    const csv = (await import('node:fs')).readFileSync(ws.path('out/items.csv'), 'utf8')
    expect(csv.trim().split('\n')).toHaveLength(11)
  })
})

describe('syncline run stops when a source field an earlier run mapped is gone', () => {
  it('an auto-mapped column renamed at the source: non-zero exit naming the field, the entity and the fix, with --full too', async () => {
    setup()
    await runJson()
    ws.sqlite('shop.db', `ALTER TABLE items RENAME COLUMN name TO title; UPDATE items SET title = 'renamed ' || id, updated_at = '2026-02-01T00:00:00.000Z' WHERE id = 2`)
    const before = ws.sqliteRows('backup.db', 'SELECT * FROM items ORDER BY id')

    for (const args of [[], ['--full']]) {
      const result = await ws.run(['run', 'items', ...args])
      expect(result.code, result.all).not.toBe(0)
      expect(result.stdout).toMatch(/items: failed/)
      expect(result.all).toContain("'name'")
      expect(result.all).toContain('shop.items')
      expect(result.all).toContain('mapping.fields')
      expect(result.all).toContain('{ source: title, destination: name }')
      expect(result.all).not.toMatch(STACK_FRAME)
      const json = jsonLines((await ws.run(['run', 'items', '--json', ...args])).stdout)[0]
      expect(json).toMatchObject({ status: 'failed', errorCode: 'SCHEMA_DRIFT' })
    }
    expect(ws.sqliteRows('backup.db', 'SELECT * FROM items ORDER BY id')).toEqual(before)

    // The fix the message gives works.
    ws.write('syncline.yaml', plan('    mapping:\n      fields:\n        - { source: title, destination: name }\n'))
    expect(await runJson()).toMatchObject({ status: 'succeeded' })
    expect(ws.sqliteRows<{ name: string }>('backup.db', 'SELECT name FROM items WHERE id = 2')[0]!.name).toBe('renamed 2')
  })

  it('an explicitly mapped column renamed at the source, in a full sync', async () => {
    ws = workspace()
    fillItems(ws.path('shop.db'), 3)
    ws.sqlite('backup.db', 'CREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT, updated_at TEXT)')
    const explicit = `connections:
  shop: { url: sqlite:./shop.db }
  backup: { url: sqlite:./backup.db }
syncs:
  - id: items
    source: { connection: shop, entity: items }
    destination: { connection: backup, entity: items }
    mapping:
      fields:
        - { source: name, destination: label }
`
    ws.write('syncline.yaml', explicit)
    expect(await runJson()).toMatchObject({ status: 'succeeded', created: 3 })
    ws.sqlite('shop.db', 'ALTER TABLE items RENAME COLUMN name TO title')
    const result = await ws.run(['run', 'items', '--json'])
    expect(result.code).not.toBe(0)
    const line = jsonLines(result.stdout)[0]!
    expect(line).toMatchObject({ status: 'failed', errorCode: 'SCHEMA_DRIFT' })
    expect(line.error).toContain("source field 'name'")
    expect(line.error).toContain("'label'")
    expect(line.error).toContain('{ source: title, destination: label }')
  })
})
