import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { PlanError, SynclineError } from '../../src/errors.js'
import { loadPlanFile, parsePlan } from '../../src/plan/load.js'
import type { LocatedPlanIssue } from '../../src/plan/yaml-location.js'

const dir = mkdtempSync(join(tmpdir(), 'syncline-plan-load-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function planFile(name: string, text: string): string {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}

async function loadError(path: string, env: NodeJS.ProcessEnv = {}): Promise<PlanError> {
  const error = await loadPlanFile(path, env).then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(PlanError)
  return error as PlanError
}

const VALID = `connections:
  shop:
    url: sqlite:./shop.db
  warehouse:
    url: postgres://sync@127.0.0.1:5432/warehouse
    password: \${WAREHOUSE_PASSWORD}
syncs:
  - id: customers
    source: { connection: shop, entity: Customer }
    destination: { connection: warehouse, entity: public.customers, create: true }
`

describe('loadPlanFile', () => {
  it('loads, expands ${VAR} and fills defaults, keeping the raw document for saving', async () => {
    const path = planFile('valid.yaml', VALID)
    const loaded = await loadPlanFile(path, { WAREHOUSE_PASSWORD: 's3cret' })
    expect(loaded.path).toBe(path)
    expect(loaded.baseDir).toBe(dir)
    expect(loaded.plan.connections.warehouse?.password).toBe('s3cret')
    expect(loaded.plan.syncs[0]?.mode).toBe('full')
    expect((loaded.raw as { connections: { warehouse: { password: string } } }).connections.warehouse.password).toBe('${WAREHOUSE_PASSWORD}')
  })

  it('says where it looked and how to fix a missing file', async () => {
    const error = await loadPlanFile(join(dir, 'nope.yaml')).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(SynclineError)
    expect(error).not.toBeInstanceOf(PlanError)
    const e = error as SynclineError
    expect(e.code).toBe('PLAN_NOT_FOUND')
    expect(e.failure).toBe('config')
    expect(e.message).toContain(join(dir, 'nope.yaml'))
    expect(e.message).toContain('syncline init')
    expect(e.message).toContain('--config')
  })

  it('says a directory is not a plan file', async () => {
    mkdirSync(join(dir, 'conf'))
    const error = (await loadPlanFile(join(dir, 'conf')).catch((e: unknown) => e)) as SynclineError
    expect(error.code).toBe('PLAN_NOT_FOUND')
    expect(error.message).toMatch(/is a directory, not a plan file/)
  })

  it('reports malformed YAML with line, column, the offending line and a caret', async () => {
    const path = planFile('broken.yaml', 'connections:\n  shop:\n    url: sqlite:./shop.db\n  shop:\n    url: sqlite:./other.db\n')
    const error = await loadError(path)
    expect(error.code).toBe('YAML_INVALID')
    expect(error.failure).toBe('config')
    expect(error.issues).toHaveLength(1)
    expect(error.issues[0]?.message).toBe(
      `${path}: line 4, column 3: this key appears twice in the same mapping; keep one\n      shop:\n      ^`,
    )
  })

  it('points at an unquoted cron expression and says to quote it', async () => {
    const path = planFile('cron.yaml', 'syncs:\n  - id: a\n    schedule: */30 * * * *\n')
    const error = await loadError(path)
    expect(error.code).toBe('YAML_INVALID')
    expect(error.issues).toHaveLength(1)
    const message = error.issues[0]!.message
    expect(message).toContain('line 3, column 15: a value that starts with * must be quoted, e.g. schedule: "*/30 * * * *"')
    const [, shown, caret] = message.split('\n')
    expect(shown).toBe('        schedule: */30 * * * *')
    expect(caret?.indexOf('^')).toBe(shown?.indexOf('*'))
  })

  it('points at a bracket that is never closed, not at the line where the parser noticed', async () => {
    const path = planFile('bracket.yaml', 'syncs:\n  - id: a\n    source: { connection: shop, entity: t\n    mode: full\n')
    const error = await loadError(path)
    expect(error.issues[0]?.message).toBe(
      `${path}: line 3, column 13: this '{' is never closed; add the closing '}' on this line\n        source: { connection: shop, entity: t\n                ^`,
    )
  })

  it('reports a bad indentation at its line', async () => {
    const path = planFile('indent.yaml', 'syncs:\n  - id: a\n   mode: full\n')
    const error = await loadError(path)
    expect(error.code).toBe('YAML_INVALID')
    expect(error.issues[0]?.message).toMatch(/: line 3, column \d+: /)
  })

  it('reports a missing variable at its path and line', async () => {
    const error = await loadError(planFile('env.yaml', VALID))
    expect(error.code).toBe('ENV_MISSING')
    const [issue] = error.issues as LocatedPlanIssue[]
    expect(issue?.path).toBe('connections.warehouse.password')
    expect(issue?.message).toBe(
      'environment variable WAREHOUSE_PASSWORD is not set; export it or use ${WAREHOUSE_PASSWORD:-default} (line 6)',
    )
    expect(issue?.line).toBe(6)
  })

  it('attaches line numbers to validation issues, in file order', async () => {
    const text = VALID.replace('destination: { connection: warehouse', 'destination: { connection: warehose') + '    mdoe: full\n'
    const error = await loadError(planFile('invalid.yaml', text), { WAREHOUSE_PASSWORD: 'x' })
    expect(error.code).toBe('PLAN_INVALID')
    // Schema problems come first; cross checks run once the schema passes.
    expect(error.issues).toEqual([
      { path: 'syncs[0].mdoe', message: "unknown setting 'mdoe'. Did you mean 'mode'? (line 11)", line: 11, column: 5 },
    ])
    const fixed = text.replace('    mdoe: full\n', '')
    const second = await loadError(planFile('invalid2.yaml', fixed), { WAREHOUSE_PASSWORD: 'x' })
    expect(second.issues).toEqual([
      {
        path: 'syncs[0].destination.connection',
        message: "unknown connection 'warehose'. Did you mean 'warehouse'? (line 10)",
        line: 10,
        column: 20,
      },
    ])
    expect(second.message).toContain("syncs[0].destination.connection: unknown connection 'warehose'. Did you mean 'warehouse'? (line 10)")
  })

  it('treats an empty file as an empty plan', async () => {
    const loaded = await loadPlanFile(planFile('empty.yaml', '# nothing yet\n'))
    expect(loaded.plan).toEqual({ state: '.syncline/state.db', history: { keepDays: 30, keepRuns: 1000 }, connections: {}, feeds: [], feedReplay: '24h', syncs: [] })
  })

  it('supports YAML anchors and merge keys for shared settings', async () => {
    const text = `connections:
  a: { url: "sqlite:a.db" }
  b: { url: "sqlite:b.db" }
syncs:
  - &first
    id: one
    source: { connection: a, entity: t }
    destination: { connection: b, entity: t }
    batchSize: 100
  - <<: *first
    id: two
    destination: { connection: b, entity: u }
`
    const loaded = await loadPlanFile(planFile('anchors.yaml', text))
    expect(loaded.plan.syncs[1]).toMatchObject({ id: 'two', source: { entity: 't' }, destination: { entity: 'u' }, batchSize: 100 })
  })
})

describe('parsePlan', () => {
  it('validates a plan object given to the library, with env and baseDir', () => {
    const loaded = parsePlan(
      { connections: { shop: { url: 'sqlite:${DB:-shop.db}' } }, syncs: [] },
      { env: {}, baseDir: '/srv/sync' },
    )
    expect(loaded.plan.connections.shop?.url).toBe('sqlite:shop.db')
    expect(loaded.baseDir).toBe('/srv/sync')
    expect(loaded.path).toBeUndefined()
  })

  it('throws a PlanError listing every issue', () => {
    let error: unknown
    try {
      parsePlan({ connections: { shop: { url: 'sqlite:x.db' } }, syncs: [{ id: 'Bad Id' }] }, { env: {} })
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(PlanError)
    const paths = (error as PlanError).issues.map((i) => i.path)
    expect(paths).toEqual(['syncs[0].id', 'syncs[0].source', 'syncs[0].destination'])
  })

  it('adds line numbers when given the YAML source', () => {
    const source = 'connections:\n  shop:\n    url: mongodb://h/db\n'
    const error = (() => {
      try {
        parsePlan({ connections: { shop: { url: 'mongodb://h/db' } } }, { env: {}, source })
      } catch (e) {
        return e as PlanError
      }
      throw new Error('expected a PlanError')
    })()
    expect(error.issues[0]?.message).toMatch(/unknown URL scheme.*\(line 3\)$/)
  })

  it('parses YAML text, and explains a path passed where a plan was expected', () => {
    expect(parsePlan('syncs: []\n', { env: {} }).plan.syncs).toEqual([])
    expect(() => parsePlan('syncline.yaml', { env: {} })).toThrow(/not a plan; to load a file, use loadPlanFile\(path\)/)
  })
})
