/**
 * Messages a new user reads when something is off (issue 6 #10): each names
 * the things involved and says the fix once.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { BUILD_TIMEOUT_MS, ensureBuilt } from './build.js'
import { workspace, type Workspace } from './workspace.js'

beforeAll(ensureBuilt, BUILD_TIMEOUT_MS)

let ws: Workspace
afterEach(() => ws?.remove())

const TWO_FILES = (syncs: string) => `connections:
  shop: { url: sqlite:./shop.db }
  backup: { url: sqlite:./backup.db }
syncs:
${syncs}`

describe('plan problems found against the datasources', () => {
  it('a key type mismatch names both sides as connection.entity', async () => {
    ws = workspace()
    ws.sqlite('shop.db', "CREATE TABLE t (id TEXT PRIMARY KEY, name TEXT); INSERT INTO t VALUES ('1', 'x');")
    ws.sqlite('backup.db', 'CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT);')
    ws.write('syncline.yaml', TWO_FILES(`  - id: t
    source: { connection: shop, entity: t }
    destination: { connection: backup, entity: t }
`))
    for (const args of [['run'], ['validate', '--live']]) {
      const result = await ws.run(args)
      expect(result.code, args.join(' ')).toBe(2)
      expect(result.all).toContain("key field 'id' is text in the source shop.t but destination field 'id' is integer in the destination backup.t")
    }
  })

  it('a missing destination table says create: true once', async () => {
    ws = workspace()
    ws.sqlite('shop.db', "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO t VALUES (1, 'x');")
    ws.sqlite('backup.db', '')
    ws.write('syncline.yaml', TWO_FILES(`  - id: t
    source: { connection: shop, entity: t }
    destination: { connection: backup, entity: copy }
`))
    for (const args of [['run'], ['validate', '--live']]) {
      const result = await ws.run(args)
      expect(result.code, args.join(' ')).toBe(2)
      expect(result.all).toContain('syncs[0].destination.entity')
      expect(result.all.match(/create: true/g), result.all).toHaveLength(1)
    }
  })
})
