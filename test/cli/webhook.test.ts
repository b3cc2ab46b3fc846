/**
 * The webhook destination through the CLI, against a real HTTP server on
 * 127.0.0.1: creates, updates and deletes from PostgreSQL as change events,
 * a second run that sends only what changed, retries delivered once by
 * idempotency key, records the endpoint rejects, an endpoint that never
 * answers, the HMAC signature, and no token or secret in any output.
 */
import { createHmac } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { postgresDatasource, type TestDatasource } from '../engine/datasources.js'
import { hasPostgres } from '../helpers/services.js'
import { BUILD_TIMEOUT_MS, ensureBuilt } from './build.js'
import { jsonLines, STACK_FRAME } from './cli.js'
import { workspace, type Workspace } from './workspace.js'

const pgAvailable = await hasPostgres()
const TOKEN = 'tok-3f9a1c77'
const SECRET = 'sec-8b2d44e1'

interface Event {
  type: 'create' | 'update' | 'delete'
  recordId: string
  key: Record<string, unknown>
  record?: Record<string, unknown>
  changes?: Record<string, unknown>
}

/** What the test endpoint does with one request; undefined: accept. */
type Behaviour = (request: number, events: Event[]) => { status: number; body?: unknown } | 'hang' | undefined

/** A receiver that dedupes by Idempotency-Key and applies events to `records`. */
class Receiver {
  server!: Server
  url = ''
  behaviour: Behaviour = () => undefined
  requests: { headers: IncomingMessage['headers']; body: string; events: Event[] }[] = []
  applied = new Map<string, number>()
  seenKeys = new Set<string>()
  records = new Map<string, Record<string, unknown>>()
  private hanging: ServerResponse[] = []

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = ''
      req.on('data', (c: Buffer) => (body += c.toString()))
      req.on('end', () => this.handle(req, res, body))
    })
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`
  }

  reset(): void {
    this.behaviour = () => undefined
    this.requests = []
    this.applied.clear()
    this.seenKeys.clear()
    this.records.clear()
  }

  private handle(req: IncomingMessage, res: ServerResponse, body: string): void {
    const events = (JSON.parse(body) as { events: Event[] }).events
    this.requests.push({ headers: req.headers, body, events })
    const answer = this.behaviour(this.requests.length, events)
    if (answer === 'hang') {
      this.hanging.push(res)
      return
    }
    const rejected = new Set(((answer?.body as { rejected?: { recordId: string }[] } | undefined)?.rejected ?? []).map((r) => r.recordId))
    const key = String(req.headers['idempotency-key'])
    if ((answer === undefined || answer.status < 300) && events.length > 0 && !this.seenKeys.has(key)) {
      this.seenKeys.add(key)
      for (const e of events) {
        if (rejected.has(e.recordId)) continue
        this.applied.set(e.recordId, (this.applied.get(e.recordId) ?? 0) + 1)
        if (e.type === 'delete') this.records.delete(e.recordId)
        else this.records.set(e.recordId, e.record!)
      }
    }
    res.writeHead(answer?.status ?? 200, { 'Content-Type': 'application/json' })
    res.end(JSON.stringify(answer?.body ?? { ok: true }))
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy()
    this.server.closeAllConnections()
    await new Promise((resolve) => this.server.close(resolve))
  }
}

beforeAll(ensureBuilt, BUILD_TIMEOUT_MS)

describe.skipIf(!pgAvailable)('syncline run into a webhook', () => {
  let pg: TestDatasource
  let ws: Workspace
  const receiver = new Receiver()
  const env = { HOOK_TOKEN: TOKEN, HOOK_SECRET: SECRET }

  beforeAll(async () => {
    pg = await postgresDatasource()
    await receiver.start()
  })
  afterAll(async () => {
    await receiver.stop()
    await pg?.cleanup()
  })
  afterEach(() => {
    ws?.remove()
    receiver.reset()
  })

  async function setup(table: string, mode: 'full' | 'incremental', options = 'syncline.timeoutMs=2000&syncline.attempts=4&syncline.backoffMs=10', maxErrors = 0): Promise<void> {
    ws = workspace()
    await pg.exec(`CREATE TABLE ${table} (id integer PRIMARY KEY, name text NOT NULL, updated_at text NOT NULL)`)
    await pg.exec(`INSERT INTO ${table} SELECT i, 'name ' || i, '2026-01-01T00:00:' || lpad(i::text, 2, '0') || 'Z' FROM generate_series(1, 6) i`)
    ws.write('syncline.yaml', `connections:
  shop:
    url: ${pg.url}
  hook:
    url: webhook:${receiver.url}?${options}
    token: \${HOOK_TOKEN}
    secret: \${HOOK_SECRET}
syncs:
  - id: push
    source: { connection: shop, entity: ${table} }
    destination: { connection: hook, entity: people, create: true }
    mode: ${mode}
${mode === 'incremental' ? '    cursor: updated_at\n    lookback: 0s\n' : ''}    batchSize: 4
    maxErrors: ${maxErrors}
    # The connector's own attempts are under test here, not the run's retries.
    retries: 0
`)
  }

  const secretFree = (text: string) => {
    expect(text).not.toContain(TOKEN)
    expect(text).not.toContain(SECRET)
  }

  it('delivers creates, updates and deletes as signed change events; a second run sends only what changed', async () => {
    await setup('people_full', 'full')
    const live = await ws.run(['validate', '--live'], { env })
    expect(live.code, live.all).toBe(0)
    secretFree(live.all)

    const first = await ws.run(['run', '--json', '--debug'], { env })
    expect(first.code, first.all).toBe(0)
    expect(jsonLines(first.stdout)[0]).toMatchObject({ status: 'succeeded', created: 6 })
    secretFree(first.all)
    expect([...receiver.records.keys()].sort()).toEqual(['1', '2', '3', '4', '5', '6'])
    expect(receiver.records.get('3')).toEqual({ id: 3, name: 'name 3', updated_at: '2026-01-01T00:00:03Z' })
    const posts = receiver.requests.filter((r) => r.events.length > 0)
    for (const r of posts) {
      expect(r.headers.authorization).toBe(`Bearer ${TOKEN}`)
      expect(r.headers['x-syncline-signature']).toBe(`sha256=${createHmac('sha256', SECRET).update(r.body).digest('hex')}`)
      expect(r.headers['idempotency-key']).toMatch(/^[0-9a-f]{64}$/)
    }
    expect(posts.flatMap((r) => r.events).every((e) => e.type === 'create')).toBe(true)

    await pg.exec(`UPDATE people_full SET name = 'renamed' WHERE id = 2`)
    await pg.exec(`DELETE FROM people_full WHERE id = 5`)
    await pg.exec(`INSERT INTO people_full VALUES (7, 'name 7', '2026-01-02T00:00:00Z')`)
    receiver.requests = []
    const second = await ws.run(['run', '--json'], { env })
    expect(second.code, second.all).toBe(0)
    expect(jsonLines(second.stdout)[0]).toMatchObject({ status: 'succeeded', created: 1, updated: 1, deleted: 1, unchanged: 4 })
    const events = receiver.requests.flatMap((r) => r.events)
    expect(events.map((e) => `${e.type}:${e.recordId}`).sort()).toEqual(['create:7', 'delete:5', 'update:2'])
    expect(events.find((e) => e.type === 'update')).toMatchObject({ key: { id: 2 }, changes: { name: 'renamed' }, record: { id: 2, name: 'renamed' } })
    expect(events.find((e) => e.type === 'delete')).not.toHaveProperty('record')
    expect(receiver.records.has('5')).toBe(false)

    receiver.requests = []
    const third = await ws.run(['run', '--json'], { env })
    expect(jsonLines(third.stdout)[0]).toMatchObject({ status: 'succeeded', unchanged: 6 })
    expect(receiver.requests.flatMap((r) => r.events)).toEqual([])
  })

  it('validate --live and check say clearly when the endpoint does not answer', async () => {
    await setup('people_down', 'full', 'syncline.timeoutMs=300&syncline.attempts=2&syncline.backoffMs=10')
    receiver.behaviour = () => ({ status: 503 })
    const live = await ws.run(['validate', '--live'], { env })
    expect(live.code).not.toBe(0)
    expect(live.all).toContain("Connection 'hook': webhook http://127.0.0.1:")
    expect(live.all).toContain('answered 503')
    expect(live.all).not.toMatch(STACK_FRAME)
    secretFree(live.all)
    receiver.behaviour = () => undefined
    const check = await ws.run(['check', 'hook'], { env })
    expect(check.code, check.all).toBe(0)
    expect(check.stdout).toContain('webhook')
    secretFree(check.all)
  })

  it('incremental: a soft-deleted source row arrives as a delete event, a changed one as an update', async () => {
    await setup('people_soft', 'incremental')
    await pg.exec(`ALTER TABLE people_soft ADD COLUMN deleted boolean NOT NULL DEFAULT false`)
    const plan = ws.path('syncline.yaml')
    const { readFileSync, writeFileSync } = await import('node:fs')
    writeFileSync(plan, readFileSync(plan, 'utf8').replace('    maxErrors', '    softDelete: deleted\n    mapping: { exclude: [deleted] }\n    maxErrors'))
    const first = await ws.run(['run', '--json'], { env })
    expect(jsonLines(first.stdout)[0], first.all).toMatchObject({ status: 'succeeded', created: 6 })

    await pg.exec(`UPDATE people_soft SET deleted = true, updated_at = '2026-01-03T00:00:00Z' WHERE id = 4`)
    await pg.exec(`UPDATE people_soft SET name = 'new', updated_at = '2026-01-03T00:00:01Z' WHERE id = 1`)
    receiver.requests = []
    const second = await ws.run(['run', '--json'], { env })
    expect(jsonLines(second.stdout)[0], second.all).toMatchObject({ status: 'succeeded', updated: 1, deleted: 1 })
    expect(receiver.requests.flatMap((r) => r.events).map((e) => `${e.type}:${e.recordId}`).sort()).toEqual(['delete:4', 'update:1'])
    expect(receiver.records.has('4')).toBe(false)
  })

  it('retries a failing endpoint with the same Idempotency-Key: every record applied once', async () => {
    await setup('people_retry', 'incremental')
    // The first attempt is applied but its answer lost (500); the second fails outright.
    let firstKey = ''
    let batches = 0
    receiver.behaviour = (_n, events) => {
      if (events.length === 0) return undefined
      batches++
      if (batches === 1) return { status: 500 }
      if (batches === 2) return { status: 503 }
      return undefined
    }
    const run = await ws.run(['run', '--json'], { env })
    expect(run.code, run.all).toBe(0)
    expect(jsonLines(run.stdout)[0]).toMatchObject({ status: 'succeeded', created: 6 })
    const posts = receiver.requests.filter((r) => r.events.length > 0)
    firstKey = String(posts[0]!.headers['idempotency-key'])
    expect(posts.slice(0, 3).map((r) => r.headers['idempotency-key'])).toEqual([firstKey, firstKey, firstKey])
    expect([...receiver.applied.values()]).toEqual([1, 1, 1, 1, 1, 1])
  })

  it('records the records the endpoint rejects as record errors and delivers the rest (partial)', async () => {
    await setup('people_reject', 'full', undefined, 5)
    receiver.behaviour = (_n, events) =>
      events.some((e) => e.recordId === '2') ? { status: 200, body: { rejected: [{ recordId: '2', reason: 'no such customer' }, { recordId: '4', reason: 'email required' }] } } : undefined
    const run = await ws.run(['run', '--json'], { env })
    expect(run.code).toBe(1)
    expect(jsonLines(run.stdout)[0]).toMatchObject({ status: 'partial', created: 4, failed: 2 })
    expect([...receiver.records.keys()].sort()).toEqual(['1', '3', '5', '6'])
    const history = await ws.run(['history', 'push'], { env })
    expect(history.stdout).toContain('no such customer')
    expect(history.stdout).toContain('email required')
    secretFree(history.all + run.all)
    // Each accepted record was posted once: the engine's isolation of the rejected ones posts nothing again.
    expect([...receiver.applied.values()]).toEqual([1, 1, 1, 1])
    expect(receiver.requests.filter((r) => r.events.length > 0)).toHaveLength(2)
  })

  it('fails clearly when the endpoint never answers, and does not advance the watermark', async () => {
    await setup('people_hang', 'incremental', 'syncline.timeoutMs=300&syncline.attempts=2&syncline.backoffMs=10')
    receiver.behaviour = (_n, events) => (events.length === 0 ? undefined : 'hang')
    const run = await ws.run(['run', '--json'], { env })
    expect(run.code).toBe(1)
    const line = jsonLines(run.stdout)[0]!
    expect(line).toMatchObject({ status: 'failed', errorCode: 'CONNECTION_REFUSED' })
    expect(String(line.error)).toContain('did not answer within 300 ms')
    expect(run.all).not.toMatch(STACK_FRAME)
    secretFree(run.all)

    receiver.behaviour = () => undefined
    const again = await ws.run(['run', '--json'], { env })
    expect(jsonLines(again.stdout)[0]).toMatchObject({ status: 'succeeded', created: 6 })
    expect([...receiver.records.keys()].sort()).toEqual(['1', '2', '3', '4', '5', '6'])
  })
})
