/**
 * A webhook destination reused by one SyncManager across runs: records the
 * endpoint rejected in a failed run are posted again by the next run, not
 * rejected from memory.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { SyncManager } from '../../src/sync-manager.js'
import { openDatasource, type TestDatasource } from '../engine/datasources.js'
import { tempDir } from '../helpers/services.js'

let src: TestDatasource
let dir: { path: string; remove: () => void }
let server: Server
let url = ''
let reject: string[] = ['2', '4']
const delivered = new Set<string>()

beforeAll(async () => {
  src = await openDatasource('sqlite', 'src')
  await src.exec(`CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)`)
  for (let id = 1; id <= 6; id++) await src.exec(`INSERT INTO items VALUES (?, ?)`, [id, `item ${id}`])
  dir = tempDir('syncline-webhook-library-')
  server = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString()))
    req.on('end', () => {
      const events = (JSON.parse(body) as { events: { recordId: string }[] }).events
      for (const e of events) if (!reject.includes(e.recordId)) delivered.add(e.recordId)
      res.writeHead(200, { 'Content-Type': 'application/json' })
      res.end(JSON.stringify({ rejected: events.filter((e) => reject.includes(e.recordId)).map((e) => ({ recordId: e.recordId, reason: 'not yet' })) }))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `webhook:http://127.0.0.1:${(server.address() as AddressInfo).port}/in?syncline.attempts=1`
})
afterAll(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
  await src?.cleanup()
  dir?.remove()
})

it('posts records rejected by a failed run again in the next run', async () => {
  const manager = await SyncManager.open({
    config: {
      state: join(dir.path, 'state.db'),
      connections: { src: { url: src.url }, hook: { url } },
      syncs: [{ id: 'items', source: { connection: 'src', entity: 'items' }, destination: { connection: 'hook', entity: 'items', create: true }, maxErrors: 0 }],
    },
    baseDir: dir.path,
  })
  try {
    const failed = await manager.run('items')
    expect(failed).toMatchObject({ status: 'failed', failed: 1 })
    reject = []
    const next = await manager.run('items')
    expect(next).toMatchObject({ status: 'succeeded', created: 2, unchanged: 4 })
    expect([...delivered].sort()).toEqual(['1', '2', '3', '4', '5', '6'])
  } finally {
    await manager.close()
  }
})
