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

it('a full re-sync of text keys in byte order (emoji, prefixes) through the ledger finds every row unchanged, reading it page by page', async () => {
  await src.exec(`CREATE TABLE tags (code TEXT PRIMARY KEY, n INTEGER NOT NULL)`)
  const codes = Array.from({ length: 1500 }, (_, i) => [`t${i}`, `t${i}\u{1f600}`, `\uffff${i}`][i % 3]!)
  for (const [n, code] of codes.entries()) await src.exec(`INSERT INTO tags VALUES (?, ?)`, [code, n])
  reject = []
  const manager = await SyncManager.open({
    config: {
      state: join(dir.path, 'state-tags.db'),
      connections: { src: { url: src.url }, hook: { url } },
      syncs: [{ id: 'tags', source: { connection: 'src', entity: 'tags' }, destination: { connection: 'hook', entity: 'tags', create: true }, batchSize: 100 }],
    },
    baseDir: dir.path,
  })
  try {
    expect(await manager.run('tags')).toMatchObject({ status: 'succeeded', created: 1500 })
    // A merge that read the ledger out of key order would create and delete rows here.
    expect(await manager.run('tags')).toMatchObject({ status: 'succeeded', created: 0, updated: 0, deleted: 0, unchanged: 1500 })

    const hook = await manager.connector('hook')
    const batches: number[] = []
    const keys: string[] = []
    for await (const rows of hook.scan('tags', { fields: ['code'], keys: ['code'], batchSize: 100 })) {
      batches.push(rows.length)
      keys.push(...rows.map((r) => String(r.code)))
    }
    expect(batches.every((b) => b <= 100)).toBe(true)
    expect(keys).toEqual([...codes].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))))
  } finally {
    await manager.close()
  }
})
