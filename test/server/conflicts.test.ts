/**
 * `/api/conflicts` on a daemon as a user runs it: a two-way SQLite <-> SQLite
 * sync with `conflict: manual` leaves a conflict with both versions; the API
 * lists it (token required), refuses a bad `take`, settles it by taking the
 * destination's row (written to the source), and then answers 404 for it.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { BUILD_TIMEOUT_MS, ensureBuilt } from '../cli/build.js'
import { workspace, type Workspace } from '../cli/workspace.js'
import { startDaemon, type DaemonProcess } from './daemon-process.js'

beforeAll(ensureBuilt, BUILD_TIMEOUT_MS)

let ws: Workspace | undefined
let daemon: DaemonProcess | undefined
afterEach(async () => {
  await daemon?.stop('SIGKILL')
  daemon = undefined
  ws?.remove()
  ws = undefined
})

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

interface ConflictView {
  id: string
  syncId: string
  recordId: string
  kind: string
  source: { body: string } | null
  destination: { body: string } | null
  base: unknown
  detectedAt: string
}

describe('the conflicts API', () => {
  it('lists a manual conflict with both versions and resolves it by taking a side', async () => {
    ws = workspace('syncline-conflicts-api-')
    ws.write('syncline.yaml', PLAN)
    ws.sqlite('shop.db', `${TABLE} INSERT INTO notes VALUES (1, 'first', '2026-01-01T00:00:01.000000Z');`)
    ws.sqlite('office.db', TABLE)
    expect((await ws.run(['run'])).code).toBe(0)
    ws.sqlite('shop.db', `UPDATE notes SET body = 'shop edit', updated_at = '2026-01-01T00:01:00.000000Z' WHERE id = 1`)
    ws.sqlite('office.db', `UPDATE notes SET body = 'office edit', updated_at = '2026-01-01T00:02:00.000000Z' WHERE id = 1`)
    expect((await ws.run(['run'])).code).toBe(0)

    daemon = await startDaemon(ws.dir)
    expect((await daemon.api('/api/conflicts', { token: null })).status).toBe(401)
    const listed = await daemon.api<ConflictView[]>('/api/conflicts')
    expect(listed.status).toBe(200)
    expect(listed.body).toHaveLength(1)
    const [conflict] = listed.body
    expect(conflict).toMatchObject({ syncId: 'notes', recordId: '1', kind: 'update/update', source: { body: 'shop edit' }, destination: { body: 'office edit' } })
    expect(conflict!.detectedAt).toMatch(/^\d{4}-\d\d-\d\dT/)

    const bad = await daemon.api<{ error: { code: string; message: string } }>(`/api/conflicts/${conflict!.id}/resolve`, { method: 'POST', body: { take: 'both' } })
    expect(bad.status).toBe(400)
    expect(bad.body.error.message).toContain('{"take": "source"}')

    const resolved = await daemon.api<ConflictView & { resolution: string }>(`/api/conflicts/${conflict!.id}/resolve`, { method: 'POST', body: { take: 'destination' } })
    expect(resolved.status).toBe(200)
    expect(resolved.body).toMatchObject({ id: conflict!.id, resolution: 'destination' })
    expect(ws.sqliteRows('shop.db', 'SELECT body FROM notes')).toEqual([{ body: 'office edit' }])
    expect((await daemon.api<ConflictView[]>('/api/conflicts')).body).toEqual([])
    expect((await daemon.api(`/api/conflicts/${conflict!.id}/resolve`, { method: 'POST', body: { take: 'source' } })).status).toBe(404)
    expect((await daemon.api('/api/conflicts/no-such-id/resolve', { method: 'POST', body: { take: 'source' } })).status).toBe(404)
  })
})
