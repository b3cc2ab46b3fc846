import { describe, expect, it } from 'vitest'
import { PlanError } from '../../src/errors.js'
import { expandEnv, expandEnvString, hasEnvReference } from '../../src/plan/env.js'

describe('expandEnv', () => {
  const env = { WAREHOUSE_PASSWORD: 's3cret', EMPTY: '', HOST: 'db.internal' }

  it('replaces ${VAR} in any string, however deep, and leaves other values alone', () => {
    const input = {
      connections: { warehouse: { url: 'postgres://sync@${HOST}:5432/wh', password: '${WAREHOUSE_PASSWORD}' } },
      syncs: [{ id: 'a', batchSize: 10, filters: [{ field: 'x', op: 'in', value: ['${HOST}', 3, null] }] }],
    }
    expect(expandEnv(input, env)).toEqual({
      connections: { warehouse: { url: 'postgres://sync@db.internal:5432/wh', password: 's3cret' } },
      syncs: [{ id: 'a', batchSize: 10, filters: [{ field: 'x', op: 'in', value: ['db.internal', 3, null] }] }],
    })
    // The input is not modified: the raw plan is kept for saving back.
    expect(input.connections.warehouse.password).toBe('${WAREHOUSE_PASSWORD}')
  })

  it('uses ${VAR:-default} when the variable is unset or empty, ${VAR-default} only when unset', () => {
    expect(expandEnv('${MISSING:-fallback}', env)).toBe('fallback')
    expect(expandEnv('${EMPTY:-fallback}', env)).toBe('fallback')
    expect(expandEnv('${EMPTY-fallback}', env)).toBe('')
    expect(expandEnv('${MISSING-}', env)).toBe('')
    expect(expandEnv('${HOST:-fallback}', env)).toBe('db.internal')
  })

  it('keeps a literal ${ written as $${ and leaves a bare $VAR alone', () => {
    expect(expandEnv('price$${x} and $HOST', env)).toBe('price${x} and $HOST')
    expect(hasEnvReference('$${x}')).toBe(false)
    expect(hasEnvReference('a ${x}')).toBe(true)
  })

  it('reports every missing variable at its path with the fix', () => {
    const input = { connections: { warehouse: { url: 'postgres://h/db', password: '${WAREHOUSE_PASSWORD}' } }, state: '${STATE_URL}' }
    let error: unknown
    try {
      expandEnv(input, {})
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(PlanError)
    const planError = error as PlanError
    expect(planError.code).toBe('ENV_MISSING')
    expect(planError.failure).toBe('config')
    expect(planError.issues).toEqual([
      {
        path: 'connections.warehouse.password',
        message: 'environment variable WAREHOUSE_PASSWORD is not set; export it or use ${WAREHOUSE_PASSWORD:-default}',
      },
      { path: 'state', message: 'environment variable STATE_URL is not set; export it or use ${STATE_URL:-default}' },
    ])
    expect(planError.message).toContain('connections.warehouse.password: environment variable WAREHOUSE_PASSWORD is not set')
  })

  it('explains a malformed reference instead of passing it through', () => {
    expect(expandEnvString('${NOT CLOSED', env)).toEqual({ ok: false, problem: expect.stringContaining('no closing') })
    expect(expandEnvString('${1BAD}', env)).toEqual({ ok: false, problem: expect.stringContaining('is not a variable reference') })
  })
})
