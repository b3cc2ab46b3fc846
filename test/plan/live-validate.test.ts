import { describe, expect, it } from 'vitest'
import { ConnectionError, NotFoundError } from '../../src/errors.js'
import { validatePlanLive, type LiveValidationDeps } from '../../src/plan/live-validate.js'
import { validatePlan } from '../../src/plan/validate.js'
import type { Plan, SyncPlanInput } from '../../src/plan/schema.js'
import type { CanonicalType, EntityInfo, FieldInfo } from '../../src/values/canonical.js'

function field(name: string, type: CanonicalType, nativeType: string = type): FieldInfo {
  return { name, type, nativeType, nullable: true }
}

function entity(name: string, fields: FieldInfo[], primaryKey: string[] = [], uniqueKeys: string[][] = []): EntityInfo {
  return { name, fields, primaryKey, uniqueKeys, foreignKeys: [] }
}

/** What the datasources hold, as connectors would describe it. */
const ENTITIES: Record<string, Record<string, EntityInfo>> = {
  shop: {
    Customer: entity(
      'Customer',
      [
        field('CustomerId', 'integer'),
        field('Name', 'text'),
        field('Email', 'text'),
        field('Status', 'text'),
        field('updated_at', 'timestamp'),
        field('deleted_at', 'timestamp'),
        field('payload', 'json', 'jsonb'),
      ],
      ['CustomerId'],
    ),
    OrderLine: entity('OrderLine', [field('order_no', 'text'), field('line', 'integer'), field('amount', 'decimal')]),
    Coupon: entity('Coupon', [field('code', 'text'), field('percent', 'integer')], [], [['code']]),
  },
  warehouse: {
    'public.customers': entity(
      'public.customers',
      [field('CustomerId', 'integer'), field('Name', 'text'), field('Email', 'text'), field('Status', 'text'), field('updated_at', 'timestamp'), field('deleted_at', 'timestamp'), field('payload', 'json')],
      ['CustomerId'],
    ),
  },
}

interface FakeDeps extends LiveValidationDeps {
  describeCalls: string[]
  duplicateCalls: string[][]
}

function fakeDeps(opts: { refused?: string[]; duplicates?: number | undefined } = {}): FakeDeps {
  const deps: FakeDeps = {
    describeCalls: [],
    duplicateCalls: [],
    async describe(connection, name) {
      deps.describeCalls.push(`${connection}.${name}`)
      if (opts.refused?.includes(connection)) {
        throw new ConnectionError('CONNECTION_REFUSED', 'transient', `Cannot reach '${connection}' at 127.0.0.1:5432: connection refused; start the server or fix the URL.`)
      }
      const found = ENTITIES[connection]?.[name]
      if (!found) throw new NotFoundError('ENTITY_NOT_FOUND', 'config', `No entity '${name}' in '${connection}'.`)
      return found
    },
    async countDuplicateKeys(_connection, _entity, keys) {
      deps.duplicateCalls.push(keys)
      return opts.duplicates
    },
  }
  return deps
}

function planWith(...syncs: Partial<SyncPlanInput>[]): Plan {
  const result = validatePlan({
    connections: { shop: { url: 'sqlite:shop.db' }, warehouse: { url: 'postgres://u@h/wh' } },
    syncs: syncs.map((s, i) => ({
      id: `sync-${i}`,
      source: { connection: 'shop', entity: 'Customer' },
      destination: { connection: 'warehouse', entity: 'public.customers' },
      ...s,
    })),
  })
  if (!result.ok) throw new Error(JSON.stringify(result.errors))
  return result.plan
}

describe('validatePlanLive', () => {
  it('finds nothing wrong with a plan that matches its datasources', async () => {
    const plan = planWith(
      { mode: 'incremental', cursor: 'updated_at', softDelete: 'deleted_at', filters: [{ field: 'Status', op: '=', value: 'active' }] },
      { source: { connection: 'shop', entity: 'Coupon' }, destination: { connection: 'warehouse', entity: 'coupons', create: true }, keys: ['code'] },
    )
    const deps = fakeDeps()
    expect(await validatePlanLive(plan, deps)).toEqual([])
    // The Coupon key is covered by a unique key, so no scan for duplicates was needed.
    expect(deps.duplicateCalls).toEqual([])
  })

  it('reports a realtime sync whose source captures no changes at its mode, with the fix; a capturing source passes', async () => {
    const plan = planWith({ mode: 'realtime' })
    const withCapture = (cdc: boolean): LiveValidationDeps => ({ ...fakeDeps(), changeCapture: async () => ({ cdc, kind: 'csv' }) })
    const issues = await validatePlanLive(plan, withCapture(false))
    expect(issues).toEqual([{ path: 'syncs[0].mode', message: expect.stringContaining("the source connection 'shop' (csv) has none; use mode: incremental with a cursor") }])
    expect(await validatePlanLive(plan, withCapture(true))).toEqual([])
    // Other modes never ask.
    expect(await validatePlanLive(planWith({ mode: 'full' }), withCapture(false))).toEqual([])
  })

  it('passes a realtime two-way sync when either side captures changes (the other is polled), and reports one where neither does', async () => {
    const plan = planWith({ mode: 'realtime', direction: 'two-way', cursor: 'updated_at' })
    const capturing = (connections: string[]): LiveValidationDeps => ({ ...fakeDeps(), changeCapture: async (c) => ({ cdc: connections.includes(c), kind: 'sqlite' }) })
    expect(await validatePlanLive(plan, capturing(['warehouse']))).toEqual([])
    expect(await validatePlanLive(plan, capturing(['shop']))).toEqual([])
    expect(await validatePlanLive(plan, capturing([]))).toEqual([{ path: 'syncs[0].mode', message: expect.stringContaining("the source connection 'shop' (sqlite) has none") }])
  })

  it('reports a missing source entity with the connector message, and checks nothing else for that sync', async () => {
    const plan = planWith({ source: { connection: 'shop', entity: 'Customers' }, keys: ['nope'] })
    expect(await validatePlanLive(plan, fakeDeps())).toEqual([{ path: 'syncs[0].source.entity', message: "No entity 'Customers' in 'shop'." }])
  })

  it('reports a missing destination unless create: true', async () => {
    const missing = planWith({ destination: { connection: 'warehouse', entity: 'public.clients' } })
    expect(await validatePlanLive(missing, fakeDeps())).toEqual([
      {
        path: 'syncs[0].destination.entity',
        message: "No entity 'public.clients' in 'warehouse'. Or set destination.create: true to create it.",
      },
    ])
    const created = planWith({ destination: { connection: 'warehouse', entity: 'public.clients', create: true } })
    expect(await validatePlanLive(created, fakeDeps())).toEqual([])
  })

  it('does not report a source that an earlier sync of the plan creates (a chain)', async () => {
    const chain = planWith(
      { destination: { connection: 'warehouse', entity: 'public.clients', create: true } },
      { source: { connection: 'warehouse', entity: 'public.clients' }, destination: { connection: 'shop', entity: 'copy', create: true } },
    )
    expect(await validatePlanLive(chain, fakeDeps())).toEqual([])
    const unchained = planWith({ source: { connection: 'warehouse', entity: 'public.clients' }, destination: { connection: 'shop', entity: 'copy', create: true } })
    expect((await validatePlanLive(unchained, fakeDeps()))[0]?.path).toBe('syncs[0].source.entity')
  })

  it('reports an unreachable connection at the connection, once per sync, asking it only once', async () => {
    const plan = planWith({}, { source: { connection: 'shop', entity: 'Coupon' }, destination: { connection: 'warehouse', entity: 'coupons' }, keys: ['code'] })
    const deps = fakeDeps({ refused: ['warehouse'] })
    const issues = await validatePlanLive(plan, deps)
    expect(issues.map((i) => i.path)).toEqual(['syncs[0].destination.connection', 'syncs[1].destination.connection'])
    expect(issues[0]?.message).toMatch(/^Cannot reach 'warehouse'/)
    expect(deps.describeCalls.filter((c) => c.startsWith('warehouse.'))).toHaveLength(1)
  })

  it('asks for keys when the source has no primary key', async () => {
    const plan = planWith({ source: { connection: 'shop', entity: 'OrderLine' }, destination: { connection: 'warehouse', entity: 'lines', create: true } })
    expect(await validatePlanLive(plan, fakeDeps())).toEqual([
      {
        path: 'syncs[0].keys',
        message: "source entity 'OrderLine' has no primary key; set keys: [field, …] to the field(s) that identify one row",
      },
    ])
  })

  it('reports an unknown key field once, with the closest name', async () => {
    const plan = planWith({ keys: ['CustomerID'] })
    expect(await validatePlanLive(plan, fakeDeps())).toEqual([
      { path: 'syncs[0].keys[0]', message: "unknown key field 'CustomerID' in Customer. Did you mean 'CustomerId'?" },
    ])
  })

  it('suggests a unique key when there is no primary key', async () => {
    const plan = planWith({ source: { connection: 'shop', entity: 'Coupon' }, destination: { connection: 'warehouse', entity: 'coupons', create: true } })
    expect(await validatePlanLive(plan, fakeDeps())).toEqual([
      { path: 'syncs[0].keys', message: "source entity 'Coupon' has no primary key; set keys: [code] (a unique key of 'Coupon')" },
    ])
  })

  it('rejects keys that are not unique in the source, counting the rows', async () => {
    const plan = planWith({ source: { connection: 'shop', entity: 'OrderLine' }, destination: { connection: 'warehouse', entity: 'lines', create: true }, keys: ['order_no'] })
    const deps = fakeDeps({ duplicates: 3 })
    expect(await validatePlanLive(plan, deps)).toEqual([
      { path: 'syncs[0].keys', message: 'key (order_no) is not unique: 3 rows share a key; choose keys that identify one row' },
    ])
    expect(deps.duplicateCalls).toEqual([['order_no']])
    // Keys the connector finds unique (or cannot count) pass.
    const composite = planWith({ source: { connection: 'shop', entity: 'OrderLine' }, destination: { connection: 'warehouse', entity: 'lines', create: true }, keys: ['order_no', 'line'] })
    expect(await validatePlanLive(composite, fakeDeps({ duplicates: 0 }))).toEqual([])
    expect(await validatePlanLive(composite, fakeDeps({ duplicates: undefined }))).toEqual([])
  })

  it('does not scan for duplicates when the primary key is inside the keys', async () => {
    const deps = fakeDeps({ duplicates: 5 })
    expect(await validatePlanLive(planWith({ keys: ['CustomerId', 'Email'] }), deps)).toEqual([])
    expect(deps.duplicateCalls).toEqual([])
  })

  it('checks cursor and softDelete fields exist and that the cursor can be ordered', async () => {
    const unknown = planWith({ mode: 'incremental', cursor: 'updatedAt', softDelete: 'deletedAt' })
    expect(await validatePlanLive(unknown, fakeDeps())).toEqual([
      { path: 'syncs[0].cursor', message: "unknown cursor field 'updatedAt' in Customer. Did you mean 'updated_at'?" },
      { path: 'syncs[0].softDelete', message: "unknown soft-delete field 'deletedAt' in Customer. Did you mean 'deleted_at'?" },
    ])
    const json = planWith({ mode: 'incremental', cursor: 'payload' })
    expect(await validatePlanLive(json, fakeDeps())).toEqual([
      {
        path: 'syncs[0].cursor',
        message: "cursor 'payload' is json (jsonb), which cannot be ordered as a watermark; choose a timestamp, date or increasing number field, e.g. updated_at",
      },
    ])
  })

  it('reports mapping problems at syncs[i].mapping… through the record mapper', async () => {
    const plan = planWith({}, { mapping: { fields: [{ source: 'Nmae', destination: 'Name' }] } })
    const issues = await validatePlanLive(plan, fakeDeps())
    expect(issues).toHaveLength(1)
    expect(issues[0]?.path).toBe('syncs[1].mapping.fields[0].source')
    expect(issues[0]?.message).toMatch(/'Nmae'.*Did you mean 'Name'\?/)
  })

  it('reports a transform naming an unknown field at its path (one that does not parse fails before, offline)', async () => {
    const plan = planWith({ mapping: { fields: [{ destination: 'Name', transform: 'UPPER(Nmae)' }] } })
    const issues = await validatePlanLive(plan, fakeDeps())
    expect(issues.map((i) => i.path)).toEqual(['syncs[0].mapping.fields[0].transform'])
    expect(issues[0]?.message).toContain("unknown field 'Nmae'")
  })

  it('reports filter problems at syncs[i].filters…', async () => {
    const plan = planWith({ filters: [{ field: 'Statsu', op: '=', value: 'active' }] })
    const issues = await validatePlanLive(plan, fakeDeps())
    expect(issues).toHaveLength(1)
    expect(issues[0]?.path).toBe('syncs[0].filters[0].field')
    expect(issues[0]?.message).toMatch(/Did you mean 'Status'\?/)
  })

  it('checks only the syncs asked for', async () => {
    const plan = planWith({ source: { connection: 'shop', entity: 'Missing' } }, {})
    expect(await validatePlanLive(plan, fakeDeps(), { syncIds: ['sync-1'] })).toEqual([])
    expect((await validatePlanLive(plan, fakeDeps(), { syncIds: ['sync-0'] })).map((i) => i.path)).toEqual(['syncs[0].source.entity'])
  })

  it('lets a bug in a connector surface instead of turning it into an issue', async () => {
    const deps = fakeDeps()
    deps.describe = async () => {
      throw new TypeError('undefined is not a function')
    }
    await expect(validatePlanLive(planWith({}), deps)).rejects.toThrow(TypeError)
  })
})
