import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { loadPlanFile, parsePlan } from '../../src/plan/load.js'
import { STARTER_PLAN } from '../../src/plan/starter.js'

const dir = mkdtempSync(join(tmpdir(), 'syncline-plan-starter-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** The starter with its commented examples switched on: `# key: …` and `# - …` lines lose their `# `. */
function uncommented(text: string): string {
  return text
    .split('\n')
    .map((line) => line.replace(/^(\s*)# (\s*(?:- )?(?:[A-Za-z]+:(?: |$)|\{))/, '$1$2'))
    .join('\n')
}

describe('STARTER_PLAN', () => {
  it('loads and validates as written, with no environment variables needed', async () => {
    const path = join(dir, 'syncline.yaml')
    writeFileSync(path, STARTER_PLAN)
    const { plan } = await loadPlanFile(path, {})
    expect(plan.syncs.map((s) => s.id)).toEqual(['customers'])
    expect(plan.connections.shop?.url).toBe('sqlite:./shop.db')
    expect(plan.syncs[0]?.destination.create).toBe(true)
  })

  it('shows every setting of the plan file, and its examples validate once uncommented', () => {
    const full = uncommented(STARTER_PLAN)
    const { plan } = parsePlan(full, { env: { WAREHOUSE_PASSWORD: 'x' } })
    expect(plan.syncs.map((s) => s.id)).toEqual(['customers', 'orders', 'contacts'])
    expect(plan.connections.warehouse?.password).toBe('x')
    const orders = plan.syncs[1]!
    expect(orders).toMatchObject({ mode: 'incremental', cursor: 'updated_at', lookback: '60s', softDelete: 'deleted_at', schedule: '*/30 * * * *' })
    expect(orders.filters).toHaveLength(2)
    expect(orders.mapping.fields.some((f) => f.transform !== undefined)).toBe(true)
    expect(plan.syncs[2]).toMatchObject({ direction: 'two-way', conflict: 'latest-wins' })

    // Every setting name of the schema appears in the uncommented starter.
    const settings = ['state', 'url', 'password', 'id', 'source', 'destination', 'create', 'keys', 'mode', 'direction', 'cursor', 'destinationCursor', 'conflictTies',
      'deletes', 'softDelete', 'mapping', 'auto', 'fields', 'exclude', 'transform', 'filters', 'op', 'value', 'conflict',
      'schedule', 'batchSize', 'lookback', 'maxErrors', 'retries']
    for (const setting of settings) expect(full, setting).toMatch(new RegExp(`(^|[\\s{,])${setting}:`, 'm'))
  })
})
