/**
 * The dashboard as an operator uses it, in a real browser (Debian's
 * chromium through playwright-core) against a real `syncline serve`: the
 * page itself needs no token but every API call does; a wrong token is
 * refused with the daemon's message; with the right one the page lists the
 * syncs, starts a run and shows its result, shows a sync's history and its
 * rejected records (as text: a value holding HTML does not run), and settles
 * a manual two-way conflict.
 */
import { existsSync } from 'node:fs'
import { chromium, type Browser, type Page } from 'playwright-core'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { BUILD_TIMEOUT_MS, ensureBuilt } from '../cli/build.js'
import { workspace, type Workspace } from '../cli/workspace.js'
import { startDaemon, TEST_TOKEN, type DaemonProcess } from './daemon-process.js'

const CHROMIUM = process.env.SYNCLINE_TEST_CHROMIUM ?? '/usr/bin/chromium'
// Like a missing database server: where chromium is missing this file fails instead of skipping.
if (!existsSync(CHROMIUM)) throw new Error(`no chromium at ${CHROMIUM}: apt-get install chromium (or set SYNCLINE_TEST_CHROMIUM)`)

beforeAll(ensureBuilt, BUILD_TIMEOUT_MS)

let ws: Workspace | undefined
let browser: Browser | undefined
let daemon: DaemonProcess | undefined
afterEach(async () => {
  await browser?.close()
  browser = undefined
  await daemon?.stop('SIGKILL')
  daemon = undefined
  ws?.remove()
  ws = undefined
})

const PLAN = `connections:
  shop: { url: sqlite:./shop.db }
  office: { url: sqlite:./office.db }
syncs:
  - id: items
    source: { connection: shop, entity: items }
    destination: { connection: office, entity: items }
    mode: full
    maxErrors: 10
  - id: notes
    source: { connection: shop, entity: notes }
    destination: { connection: office, entity: notes }
    mode: incremental
    direction: two-way
    cursor: updated_at
    conflict: manual
`
const NOTES = 'CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL, updated_at TEXT);'
const HOSTILE = '<img src=x onerror="window.pwned=1">'

/** The text of the cells of one sync's row in the syncs table. */
function syncRow(page: Page, id: string): Promise<string[]> {
  return page.locator(`#syncs tr[data-sync="${id}"] td`).allTextContents()
}

describe('the dashboard', () => {
  it('lists syncs, runs one, shows its history and rejected records, and settles a conflict', async () => {
    const w = (ws = workspace('syncline-dashboard-'))
    w.write('syncline.yaml', PLAN)
    w.sqlite('shop.db', `CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
      INSERT INTO items VALUES (1, 'one'), (2, 'two'), (3, '${HOSTILE}');
      ${NOTES} INSERT INTO notes VALUES (1, 'first', '2026-01-01T00:00:01.000000Z');`)
    // VARCHAR(8): the hostile name is too long and becomes a rejected record.
    w.sqlite('office.db', `CREATE TABLE items (id INTEGER PRIMARY KEY, name VARCHAR(8) NOT NULL); ${NOTES}`)
    expect((await w.run(['run', 'notes'])).code).toBe(0)
    w.sqlite('shop.db', `UPDATE notes SET body = 'shop edit', updated_at = '2026-01-01T00:01:00.000000Z' WHERE id = 1`)
    w.sqlite('office.db', `UPDATE notes SET body = 'office edit', updated_at = '2026-01-01T00:02:00.000000Z' WHERE id = 1`)
    expect((await w.run(['run', 'notes'])).code).toBe(0)
    daemon = await startDaemon(w.dir)

    // The page and its assets are public and locked down; the API behind them is not.
    const page = await fetch(`${daemon.url}/dashboard`)
    expect(page.status).toBe(200)
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'")
    expect(await page.text()).toContain('<meta name="syncline-auth" content="token">')
    expect((await fetch(`${daemon.url}/`, { redirect: 'manual' })).headers.get('location')).toBe('/dashboard')
    expect((await daemon.api('/api/syncs', { token: null })).status).toBe(401)

    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] })
    const tab = await browser.newPage()
    const pageErrors: string[] = []
    tab.on('pageerror', (error) => pageErrors.push(error.message))
    await tab.goto(`${daemon.url}/dashboard`)

    await tab.fill('#token', 'not-the-token')
    await tab.click('#token-form button[type=submit]')
    await tab.waitForSelector('#banner:not([hidden])')
    expect(await tab.textContent('#banner')).toContain('not the one the daemon was started with')
    expect(await tab.isVisible('#token-form')).toBe(true)

    await tab.fill('#token', TEST_TOKEN)
    await tab.click('#token-form button[type=submit]')
    await tab.waitForSelector('#syncs tr[data-sync="items"]')
    expect((await syncRow(tab, 'notes'))[1]).toBe('incremental (two-way)')
    expect((await syncRow(tab, 'items'))[2]).toBe('idle')

    await tab.click('#syncs tr[data-sync="items"] button:text("Run")')
    await tab.locator('#syncs tr[data-sync="items"] td:nth-child(4) .status', { hasText: 'partial' }).waitFor({ timeout: 20_000 })
    expect((await syncRow(tab, 'items'))[4]).toBe('3 / 2 / 0 / 0 / 1 / 0')
    expect(w.sqliteRows('office.db', 'SELECT id, name FROM items ORDER BY id')).toEqual([{ id: 1, name: 'one' }, { id: 2, name: 'two' }])

    await tab.click('#syncs tr[data-sync="items"] td:first-child')
    await tab.waitForSelector('#runs tbody tr')
    const run = await tab.locator('#runs tbody tr').first().locator('td').allTextContents()
    expect(run.slice(1, 3)).toEqual(['1', 'partial'])
    await tab.waitForSelector('#errors tbody tr')
    const rejected = await tab.locator('#errors tbody tr').first().locator('td').allTextContents()
    expect(rejected[1]).toBe('3')
    expect(rejected[3]).toContain('name')
    expect(await tab.evaluate(() => (globalThis as { pwned?: unknown }).pwned)).toBeUndefined()

    await tab.waitForSelector('#conflicts tbody tr')
    expect((await tab.locator('#conflicts tbody tr td').allTextContents()).slice(0, 3)).toEqual(['notes', '1', 'update/update'])
    await tab.click('#conflicts tbody tr button:text("Take destination")')
    await tab.waitForSelector('#no-conflicts:not([hidden])')
    expect(w.sqliteRows('shop.db', 'SELECT body FROM notes')).toEqual([{ body: 'office edit' }])
    expect(pageErrors).toEqual([])
  })
})
