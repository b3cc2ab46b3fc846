import { describe, expect, it } from 'vitest'
import type { PlanIssue } from '../../src/errors.js'
import { formatIssues, validatePlan } from '../../src/plan/validate.js'

/** A small valid plan to break one setting at a time. */
function basePlan(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    connections: { shop: { url: 'sqlite:./shop.db' }, warehouse: { url: 'postgres://sync@127.0.0.1:5432/wh' } },
    syncs: [
      {
        id: 'customers',
        source: { connection: 'shop', entity: 'Customer' },
        destination: { connection: 'warehouse', entity: 'public.customers', create: true },
        ...overrides,
      },
    ],
  }
}

function errorsOf(input: unknown): PlanIssue[] {
  const result = validatePlan(input)
  if (result.ok) throw new Error('expected the plan to be invalid')
  return result.errors
}

describe('validatePlan', () => {
  it('fills in every default of DESIGN §1.1', () => {
    const result = validatePlan(basePlan())
    expect(result.ok).toBe(true)
    if (!result.ok) return
    expect(result.plan.state).toBe('.syncline/state.db')
    expect(result.plan.syncs[0]).toEqual({
      id: 'customers',
      source: { connection: 'shop', entity: 'Customer' },
      destination: { connection: 'warehouse', entity: 'public.customers', create: true },
      mode: 'full',
      direction: 'one-way',
      deletes: 'propagate',
      compare: 'auto',
      mapping: { auto: true, fields: [], exclude: [] },
      filters: [],
      conflict: 'latest-wins',
      conflictTies: 'source',
      batchSize: 5000,
      lookback: '60s',
      maxErrors: 0,
      retries: 3,
      retryDelay: '1s',
      foreignKeys: 'auto',
    })
  })

  it('names an unknown setting with the closest allowed one', () => {
    expect(errorsOf(basePlan({ mdoe: 'full' }))).toEqual([
      { path: 'syncs[0].mdoe', message: "unknown setting 'mdoe'. Did you mean 'mode'?" },
    ])
    expect(errorsOf({ ...basePlan(), sync: [] })).toEqual([{ path: 'sync', message: "unknown setting 'sync'. Did you mean 'syncs'?" }])
    const [issue] = errorsOf({ connections: { shop: { url: 'sqlite:x.db', pasword: 'x' } } })
    expect(issue).toEqual({ path: 'connections.shop.pasword', message: "unknown setting 'pasword'. Did you mean 'password'?" })
  })

  it('lists the allowed settings when nothing is close, and says where a misplaced one belongs', () => {
    const [far] = errorsOf(basePlan({ colour: 'blue' }))
    expect(far?.message).toMatch(/^unknown setting 'colour'; remove it, or use one of: id, source, destination, keys, mode/)
    const [misplaced] = errorsOf(basePlan({ create: true }))
    expect(misplaced).toEqual({
      path: 'syncs[0].create',
      message: "unknown setting 'create' here; it belongs inside 'destination', e.g. destination: { …, create: … }",
    })
  })

  it('says what was expected and what was found, with the fix', () => {
    expect(errorsOf(basePlan({ keys: 'id' }))).toEqual([
      { path: 'syncs[0].keys', message: "expected a list, found text 'id'; write [id] for a list of one" },
    ])
    expect(errorsOf(basePlan({ mode: 'fulll' }))).toEqual([
      { path: 'syncs[0].mode', message: "'fulll' is not a valid mode. Did you mean 'full'? Use one of: full, incremental, realtime" },
    ])
    const [missing] = errorsOf({ connections: {}, syncs: [{ id: 'a', source: { connection: 'shop' }, destination: { connection: 'shop', entity: 'b' } }] })
    expect(missing).toEqual({ path: 'syncs[0].source.entity', message: "'entity' is required: a table name such as customers or public.customers" })
    const [op] = errorsOf(basePlan({ filters: [{ field: 'Status', op: '==', value: 'Active' }] }))
    expect(op?.path).toBe('syncs[0].filters[0].op')
    expect(op?.message).toMatch(/^'==' is not a valid op\. Did you mean '='\?/)
  })

  it('reports the path of a nested problem like syncs[1].mapping.fields[0].source', () => {
    const plan = basePlan()
    ;(plan.syncs as unknown[]).push({
      id: 'orders',
      source: { connection: 'shop', entity: 'Order' },
      destination: { connection: 'warehouse', entity: 'orders' },
      mapping: { fields: [{ source: '', destination: 'total' }] },
    })
    const [issue] = errorsOf(plan)
    expect(issue?.path).toBe('syncs[1].mapping.fields[0].source')
    expect(issue?.message).toMatch(/^must not be empty; give a source field name/)
  })

  it('rejects an unknown connection with a suggestion', () => {
    expect(errorsOf(basePlan({ source: { connection: 'shpo', entity: 'Customer' } }))).toEqual([
      { path: 'syncs[0].source.connection', message: "unknown connection 'shpo'. Did you mean 'shop'?" },
    ])
    const [far] = errorsOf(basePlan({ destination: { connection: 'lake', entity: 'x' } }))
    expect(far?.message).toBe("unknown connection 'lake'. Known connections: shop, warehouse; or add 'lake' under connections:")
  })

  it('needs a cursor for incremental mode and for two-way syncs', () => {
    expect(errorsOf(basePlan({ mode: 'incremental' }))).toEqual([
      {
        path: 'syncs[0].cursor',
        message: 'mode incremental needs a cursor: a field that increases whenever a row changes, e.g. cursor: updated_at (or use mode: full)',
      },
    ])
    const [twoWay] = errorsOf(basePlan({ direction: 'two-way' }))
    expect(twoWay?.path).toBe('syncs[0].cursor')
    expect(twoWay?.message).toMatch(/^direction two-way needs a cursor/)
    expect(validatePlan(basePlan({ mode: 'incremental', cursor: 'updated_at' })).ok).toBe(true)
  })

  it('accepts realtime mode (the engine decides whether the source can stream)', () => {
    expect(validatePlan(basePlan({ mode: 'realtime' })).ok).toBe(true)
  })

  it('rejects a schedule that is not valid cron, saying why', () => {
    expect(errorsOf(basePlan({ schedule: '*/30 * * *' }))).toEqual([
      {
        path: 'syncs[0].schedule',
        message: expect.stringMatching(/^schedule '\*\/30 \* \* \*': a cron expression has 5 fields \(or 6 with seconds first\), this one has 4/),
      },
    ])
    expect(validatePlan(basePlan({ schedule: '0 */5 * * * *' })).ok).toBe(true)
  })

  it('rejects duplicate sync ids at the second one', () => {
    const plan = basePlan()
    ;(plan.syncs as unknown[]).push({ ...(plan.syncs as Record<string, unknown>[])[0], destination: { connection: 'warehouse', entity: 'other' } })
    expect(errorsOf(plan)).toEqual([
      { path: 'syncs[1].id', message: "sync id 'customers' is already used by syncs[0]; give each sync its own id" },
    ])
  })

  it('accepts mysql:// and mariadb:// URLs and names the supported schemes for others', () => {
    const withUrl = (url: string) => ({ connections: { shop: { url } } })
    expect(validatePlan(withUrl('mysql://root@localhost/shop')).ok).toBe(true)
    expect(validatePlan(withUrl('mariadb://root@localhost:3306/shop')).ok).toBe(true)
    expect(errorsOf(withUrl('mysql://root@[bad/shop'))[0]?.message).toMatch(/write mysql:\/\/user@host:3306\/db/)
    expect(errorsOf(withUrl('postgress://h/db'))[0]?.message).toMatch(/^unknown URL scheme 'postgress:'\. Did you mean 'postgres'\?/)
    expect(errorsOf(withUrl('mongodb://h/db'))[0]?.message).toMatch(/mysql:\/\/user@host:3306\/db/)
    expect(errorsOf(withUrl('./shop.db'))[0]?.message).toBe(
      "'./shop.db' has no scheme; write sqlite:./shop.db for a SQLite file, postgres://user@host:5432/db or mysql://user@host:3306/db",
    )
    expect(validatePlan(withUrl('postgresql://u@h:5432/db')).ok).toBe(true)
    expect(validatePlan(withUrl('sqlite::memory:')).ok).toBe(true)
  })

  it('accepts webhook:http(s) URLs with token/secret, and says what is wrong with others', () => {
    const hook = (connection: Record<string, unknown>) => ({ connections: { hook: connection } })
    expect(validatePlan(hook({ url: 'webhook:https://example.org/in?syncline.timeoutMs=500', token: 't', secret: 's' })).ok).toBe(true)
    expect(errorsOf(hook({ url: 'webhook:ftp://example.org/in' }))[0]?.message).toMatch(/^a webhook URL is webhook:https:\/\/host\/path/)
    expect(errorsOf(hook({ url: 'webhook:https://example.org/in?syncline.attempts=0' }))[0]?.message).toBe("syncline.attempts must be a whole number of at least 1 (got '0')")
    expect(errorsOf(hook({ url: 'webhook:https://u:p@example.org/in' }))[0]?.message).toMatch(/token: \$\{VAR\} or secret: \$\{VAR\}/)
    expect(errorsOf(hook({ url: 'webhook:https://example.org/in', password: 'x' }))[0]).toMatchObject({ path: 'connections.hook.password' })
    expect(errorsOf(hook({ url: 'sqlite:./a.db', token: 'x' }))[0]).toEqual({
      path: 'connections.hook.token',
      message: "only webhook connections take token or secret; remove it from connection 'hook'",
    })
  })

  it('rejects a password given both in the URL and as password:', () => {
    const plan = { connections: { wh: { url: 'postgres://sync:hunter2@h/db', password: 'hunter2' } } }
    expect(errorsOf(plan)).toEqual([
      {
        path: 'connections.wh.password',
        message: "the password is given twice, in the URL and in 'password'; remove it from the URL and keep password: ${VAR}",
      },
    ])
    expect(validatePlan({ connections: { wh: { url: 'postgres://sync@h/db', password: 'hunter2' } } }).ok).toBe(true)
  })

  it('catches settings that contradict each other', () => {
    const self = errorsOf(basePlan({ destination: { connection: 'shop', entity: 'Customer' } }))
    expect(self[0]?.path).toBe('syncs[0].destination.entity')
    const create = errorsOf(basePlan({ source: { connection: 'shop', entity: 'Customer', create: true } }))
    expect(create[0]?.message).toMatch(/'create' applies to the destination only/)
    const twice = errorsOf(basePlan({ mapping: { fields: [{ source: 'a', destination: 'x' }, { source: 'b', destination: 'x' }] } }))
    expect(twice).toEqual([
      {
        path: 'syncs[0].mapping.fields[1].destination',
        message: "destination field 'x' is already mapped by mapping.fields[0]; map each destination field once",
      },
    ])
  })

  it('formats issues one per line, as in a PlanError', () => {
    const text = formatIssues([
      { path: 'syncs[0].mode', message: 'bad' },
      { path: '', message: 'line 1\nsnippet' },
    ])
    expect(text).toBe('  syncs[0].mode: bad\n  line 1\n  snippet')
    expect(formatIssues([{ path: 'a', message: 'b' }], { indent: '' })).toBe('a: b')
  })

  it('parses transforms and checks filter values without any datasource (issue 6 #12)', () => {
    const mapping = {
      fields: [
        { source: 'Name', destination: 'name' },
        { source: 'Name', destination: 'label', transform: '((' },
        { source: 'FullName', destination: 'first', transform: "SPLT(' ', 0)" },
      ],
    }
    const errors = errorsOf(basePlan({ mapping, filters: [{ field: 'Status', op: '=', value: null }, { field: 'Name', op: 'like', value: 5 }] }))
    expect(errors.map((e) => e.path)).toEqual([
      'syncs[0].mapping.fields[1].transform',
      'syncs[0].mapping.fields[2].transform',
      'syncs[0].filters[0].value',
      'syncs[0].filters[1].value',
    ])
    // The parser's own message: the problem, the expression and a caret under the character.
    expect(errors[0]!.message).toMatch(/at character 3\n {4}\(\(\n {6}\^$/)
    expect(errors[1]!.message).toContain('Did you mean SPLIT?')
    expect(errors[2]!.message).toContain('use op: is_null')
    expect(errors[3]!.message).toContain('like needs a text pattern')
    expect(validatePlan(basePlan({ mapping: { fields: [{ source: 'FullName', destination: 'first', transform: "SPLIT(' ', 0)" }] } })).ok).toBe(true)
  })
})
