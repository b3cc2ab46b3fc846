import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, chmodSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse } from 'yaml'
import { afterAll, describe, expect, it } from 'vitest'
import { PlanError } from '../../src/errors.js'
import { loadPlanFile } from '../../src/plan/load.js'
import { savePlanFile } from '../../src/plan/save.js'
import type { Plan, PlanInput } from '../../src/plan/schema.js'

const root = mkdtempSync(join(tmpdir(), 'syncline-plan-save-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))
let counter = 0
function freshDir(): string {
  const dir = join(root, `case-${++counter}`)
  mkdirSync(dir)
  return dir
}

const ENV = { WAREHOUSE_PASSWORD: 's3cret', WAREHOUSE_HOST: 'db.internal' }

const ORIGINAL = `# Our production plan. Keep this comment.
connections:
  shop:
    url: sqlite:./shop.db
  warehouse:
    url: postgres://sync@\${WAREHOUSE_HOST}:5432/warehouse
    password: \${WAREHOUSE_PASSWORD}   # from the vault
syncs:
  # customers go to the warehouse every half hour
  - id: customers
    source: { connection: shop, entity: Customer }
    destination: { connection: warehouse, entity: public.customers, create: true }
    mode: full
    schedule: "*/30 * * * *"
`

describe('savePlanFile', () => {
  it('round-trips: keeps ${VAR} instead of the secret, keeps comments, writes a .bak', async () => {
    const dir = freshDir()
    const path = join(dir, 'syncline.yaml')
    writeFileSync(path, ORIGINAL)
    const loaded = await loadPlanFile(path, ENV)
    expect(loaded.plan.connections.warehouse?.password).toBe('s3cret')

    const plan: Plan = structuredClone(loaded.plan)
    plan.syncs[0]!.batchSize = 1000
    const result = await savePlanFile(path, plan, { previousRaw: loaded.raw, env: ENV })

    expect(result.backupPath).toBe(`${path}.bak`)
    expect(readFileSync(`${path}.bak`, 'utf8')).toBe(ORIGINAL)
    const text = readFileSync(path, 'utf8')
    expect(text).not.toContain('s3cret')
    expect(text).not.toContain('db.internal')
    expect(text).toContain('password: ${WAREHOUSE_PASSWORD}')
    expect(text).toContain('url: postgres://sync@${WAREHOUSE_HOST}:5432/warehouse')
    expect(text).toContain('# Our production plan. Keep this comment.')
    expect(text).toContain('# customers go to the warehouse every half hour')
    expect(text).toContain('# from the vault')
    // `mode: full` was written out by the user, so it stays although it is the default.
    expect(text).toContain('mode: full')
    expect(text).toContain('batchSize: 1000')

    const reloaded = await loadPlanFile(path, ENV)
    expect(reloaded.plan).toEqual(plan)
    // No temporary files are left behind.
    expect(readdirSync(dir).sort()).toEqual(['syncline.yaml', 'syncline.yaml.bak'])
  })

  it('writes a changed secret as the new value, not the old ${VAR}', async () => {
    const dir = freshDir()
    const path = join(dir, 'syncline.yaml')
    writeFileSync(path, ORIGINAL)
    const loaded = await loadPlanFile(path, ENV)
    const plan = structuredClone(loaded.plan)
    plan.connections.warehouse!.password = 'rotated'
    await savePlanFile(path, plan, { previousRaw: loaded.raw, env: ENV })
    expect(parse(readFileSync(path, 'utf8')).connections.warehouse.password).toBe('rotated')
  })

  it('writes a new file short: defaults left out, endpoints and keys compact', async () => {
    const dir = freshDir()
    const path = join(dir, 'nested', 'new.yaml') // a directory that does not exist yet
    const plan: PlanInput = {
      connections: { a: { url: 'sqlite:a.db' }, b: { url: 'sqlite:b.db' } },
      syncs: [
        {
          id: 'orders',
          source: { connection: 'a', entity: 'orders' },
          destination: { connection: 'b', entity: 'orders' },
          keys: ['id'],
          mode: 'incremental',
          cursor: 'updated_at',
          batchSize: 5000,
          filters: [{ field: 'status', op: '=', value: 'paid' }],
        },
      ],
    }
    const result = await savePlanFile(path, plan)
    expect(result.backupPath).toBeUndefined()
    expect(readFileSync(path, 'utf8')).toBe(`connections:
  a:
    url: sqlite:a.db
  b:
    url: sqlite:b.db
syncs:
  - id: orders
    source: { connection: a, entity: orders }
    destination: { connection: b, entity: orders }
    keys: [ id ]
    mode: incremental
    cursor: updated_at
    filters:
      - { field: status, op: "=", value: paid }
`)
    const reloaded = await loadPlanFile(path, {})
    expect(reloaded.plan.syncs[0]).toMatchObject({ batchSize: 5000, filters: [{ field: 'status', op: '=', value: 'paid' }] })
  })

  it('matches syncs by id, so removing one keeps the comments of the others', async () => {
    const dir = freshDir()
    const path = join(dir, 'syncline.yaml')
    const text = `connections:
  a: { url: "sqlite:a.db" }
syncs:
  # first
  - id: one
    source: { connection: a, entity: t1 }
    destination: { connection: a, entity: u1 }
  # second, keep me
  - id: two
    source: { connection: a, entity: t2 }
    destination: { connection: a, entity: u2 }   # two's destination
`
    writeFileSync(path, text)
    const loaded = await loadPlanFile(path, {})
    const plan = structuredClone(loaded.plan)
    plan.syncs.shift()
    await savePlanFile(path, plan, { previousRaw: loaded.raw, env: {} })
    const saved = readFileSync(path, 'utf8')
    expect(saved).not.toContain('id: one')
    expect(saved).toContain("# two's destination")
    expect((await loadPlanFile(path, {})).plan.syncs.map((s) => s.id)).toEqual(['two'])
  })

  it('writes syncs added to an empty `syncs: []` one per line', async () => {
    const dir = freshDir()
    const path = join(dir, 'syncline.yaml')
    writeFileSync(path, 'connections:\n  a: { url: "sqlite:a.db" }\nsyncs: []\n')
    const loaded = await loadPlanFile(path, {})
    await savePlanFile(
      path,
      { ...(loaded.raw as PlanInput), syncs: [{ id: 'one', source: { connection: 'a', entity: 't' }, destination: { connection: 'a', entity: 'u' } }] },
      { previousRaw: loaded.raw, env: {} },
    )
    expect(readFileSync(path, 'utf8')).toBe(
      'connections:\n  a: { url: "sqlite:a.db" }\nsyncs:\n  - id: one\n    source: { connection: a, entity: t }\n    destination: { connection: a, entity: u }\n',
    )
  })

  it('keeps the file mode of the previous file (a plan may hold secrets)', async () => {
    const dir = freshDir()
    const path = join(dir, 'syncline.yaml')
    await savePlanFile(path, { syncs: [] })
    chmodSync(path, 0o600)
    await savePlanFile(path, { connections: { a: { url: 'sqlite:a.db' } } })
    expect(statSync(path).mode & 0o777).toBe(0o600)
  })

  it('refuses to write an invalid plan and leaves the file alone', async () => {
    const dir = freshDir()
    const path = join(dir, 'syncline.yaml')
    await savePlanFile(path, { syncs: [] })
    const before = readFileSync(path, 'utf8')
    const bad = { syncs: [{ id: 'x', source: { connection: 'nope', entity: 't' }, destination: { connection: 'nope', entity: 'u' } }] }
    await expect(savePlanFile(path, bad as PlanInput)).rejects.toBeInstanceOf(PlanError)
    expect(readFileSync(path, 'utf8')).toBe(before)
    expect(readdirSync(dir)).toEqual(['syncline.yaml'])
  })

  it('saves a raw plan whose ${VAR} is not set here, as written', async () => {
    const dir = freshDir()
    const path = join(dir, 'syncline.yaml')
    const raw = { connections: { wh: { url: '${WAREHOUSE_URL}', password: '${WAREHOUSE_PASSWORD}' } } }
    await savePlanFile(path, raw, { env: {} })
    expect(parse(readFileSync(path, 'utf8'))).toEqual({ connections: { wh: { url: '${WAREHOUSE_URL}', password: '${WAREHOUSE_PASSWORD}' } }, syncs: [] })
  })
})
