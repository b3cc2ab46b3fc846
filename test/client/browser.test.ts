/**
 * `syncline/client` in a real browser (Debian's chromium, headless, through
 * playwright-core): the built `dist/client` modules are loaded as ES modules
 * into a page and use the browser's own WebSocket, `?token=` included; the
 * replica equals the SQLite table after writes and after a daemon restart
 * it reconnects and resumes. Skipped, with the reason, where chromium is missing
 * (a failure under SYNCLINE_TEST_SERVICES=required).
 */
import { existsSync, readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join, normalize } from 'node:path'
import { chromium, type Browser } from 'playwright-core'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { BUILD_TIMEOUT_MS, ROOT, ensureBuilt } from '../cli/build.js'
import { workspace, type Workspace } from '../cli/workspace.js'
import { startDaemon, waitFor, TEST_TOKEN, type DaemonProcess } from '../server/daemon-process.js'

const CHROMIUM = process.env.SYNCLINE_TEST_CHROMIUM ?? '/usr/bin/chromium'
const hasChromium = existsSync(CHROMIUM)
// Like a missing database server: CI (SYNCLINE_TEST_SERVICES=required, which installs chromium) must not skip it.
if (!hasChromium && process.env.SYNCLINE_TEST_SERVICES === 'required') throw new Error(`no chromium at ${CHROMIUM}: apt-get install chromium (or set SYNCLINE_TEST_CHROMIUM)`)
if (!hasChromium) console.warn(`test/client/browser.test.ts skipped: no chromium at ${CHROMIUM} (apt-get install chromium, or set SYNCLINE_TEST_CHROMIUM)`)

beforeAll(ensureBuilt, BUILD_TIMEOUT_MS)

let ws: Workspace | undefined
let browser: Browser | undefined
const daemons: DaemonProcess[] = []
const closers: Array<() => Promise<void>> = []
afterEach(async () => {
  await browser?.close()
  browser = undefined
  for (const close of closers.splice(0)) await close()
  for (const daemon of daemons.splice(0)) await daemon.stop('SIGKILL')
  ws?.remove()
  ws = undefined
})

type Item = { id: number; name: string; version: number }
/**
 * A web server on 127.0.0.1 for the page and dist/ (a page from a public
 * origin, or one playwright fulfils, may not open a socket to 127.0.0.1:
 * chromium's local network access checks).
 */
async function serveDist(): Promise<{ url: string; close: () => Promise<void> }> {
  const dist = join(ROOT, 'dist')
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://x').pathname
    if (path === '/') return response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>replica</title>')
    const file = normalize(join(dist, path))
    if (!file.startsWith(dist) || !existsSync(file)) return response.writeHead(404).end('not found')
    response.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync(file))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) }
}

describe.skipIf(!hasChromium)('syncline/client in a browser (chromium)', () => {
  it('keeps a replica equal to the table with the browser WebSocket, across a daemon restart', async () => {
    const w = (ws = workspace('syncline-client-browser-'))
    w.sqlite('shop.db', `CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, version INTEGER NOT NULL DEFAULT 1);
      INSERT INTO items (id, name) VALUES (1, 'one'), (2, 'two'), (3, 'three');`)
    w.write('syncline.yaml', 'connections:\n  shop: { url: sqlite:./shop.db }\n')
    const first = await startDaemon(w.dir)
    daemons.push(first)
    const port = new URL(first.url).port

    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] })
    const page = await browser.newPage()
    const site = await serveDist()
    closers.push(site.close)
    const pageErrors: string[] = []
    page.on('pageerror', (error) => pageErrors.push(error.message))
    await page.goto(`${site.url}/`)
    expect(await page.evaluate(() => typeof WebSocket)).toBe('function')
    // A module script as an application would write it (a string: vitest would rewrite import() in a function).
    const config = JSON.stringify({ url: first.url, token: TEST_TOKEN, connection: 'shop', entity: 'items', minDelayMs: 50, maxDelayMs: 500 })
    await page.addScriptTag({
      type: 'module',
      content: `import { subscribe } from '/client/index.js'
        window.replica = subscribe(${config})
        window.replica.ready.then(() => (window.replicaReady = true), (e) => (window.replicaReady = e.code))`,
    })
    await page.waitForFunction(() => (globalThis as { replicaReady?: unknown }).replicaReady !== undefined, undefined, { timeout: 20_000 })
    expect(await page.evaluate(() => (globalThis as { replicaReady?: unknown }).replicaReady)).toBe(true)
    const rowsInPage = () =>
      page.evaluate(() => {
        const replica = (globalThis as unknown as { replica: { rows: Map<string, { id: number }> } }).replica
        return JSON.stringify([...replica.rows.values()].sort((a, b) => a.id - b.id))
      })
    const table = () => JSON.stringify(w.sqliteRows<Item>('shop.db', 'SELECT id, name, version FROM items ORDER BY id'))
    expect(await rowsInPage()).toBe(table())

    w.sqlite('shop.db', `INSERT INTO items (id, name) VALUES (4, 'four'); UPDATE items SET name = 'TWO', version = 2 WHERE id = 2; DELETE FROM items WHERE id = 1`)
    await waitFor(async () => (await rowsInPage()) === table(), 20_000, 'the page replica to follow the writes')

    await first.stop('SIGTERM')
    w.sqlite('shop.db', `INSERT INTO items (id, name) VALUES (5, 'five'); UPDATE items SET version = 3 WHERE id = 2`)
    const second = await startDaemon(w.dir, { args: ['--port', port] })
    daemons.push(second)
    await waitFor(async () => (await rowsInPage()) === table(), 20_000, 'the page replica to catch up after the restart')
    expect(second.logs().filter((l) => l.msg === 'feed client connected').map((l) => l.since)).toEqual([true])
    expect(pageErrors).toEqual([])
  })
})
