/**
 * Plans accept csv: and ndjson: connections, and report a bad file URL at
 * its path before anything runs.
 */
import { describe, expect, it } from 'vitest'
import { validatePlan } from '../../../src/plan/validate.js'

const plan = (url: string, extra: Record<string, unknown> = {}) => ({
  connections: { shop: { url: 'sqlite:./shop.db' }, files: { url, ...extra } },
  syncs: [{ id: 'export', source: { connection: 'shop', entity: 'Customer' }, destination: { connection: 'files', entity: 'customers', create: true } }],
})

describe('file connections in a plan', () => {
  it('csv:DIR (with a delimiter) and ndjson:DIR are valid', () => {
    for (const url of ['csv:./exports', 'csv:./exports?delimiter=;', 'csv:/abs/dir?delimiter=\\t', 'ndjson:./events']) {
      expect(validatePlan(plan(url))).toMatchObject({ ok: true })
    }
  })

  it('a bad option, a missing directory or a password is reported at its path', () => {
    const errors = (url: string, extra?: Record<string, unknown>) => {
      const result = validatePlan(plan(url, extra))
      return result.ok ? [] : result.errors
    }
    expect(errors('csv:./d?delimiter=;;')).toEqual([{ path: 'connections.files.url', message: expect.stringContaining('one character') }])
    expect(errors('ndjson:./d?delimiter=;')).toEqual([{ path: 'connections.files.url', message: expect.stringContaining('ndjson: URLs take no options') }])
    expect(errors('csv:')).toEqual([{ path: 'connections.files.url', message: expect.stringContaining('names no directory') }])
    expect(errors('csv:./d', { password: 'x' })).toEqual([{ path: 'connections.files.password', message: expect.stringContaining('files have no password') }])
  })
})
