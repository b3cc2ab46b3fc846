/**
 * Files without a sidecar schema: field types are inferred from the first
 * 1,000 records and values read exactly; CSV tells NULL (unquoted empty)
 * from the empty string (quoted).
 */
import { describe, expect, it } from 'vitest'
import { readRows, useFileDir } from './fixture.js'

describe('type inference', () => {
  const files = useFileDir()

  it('CSV: integers (bigint beyond 2^53), decimals, floats, booleans, timestamps, dates, times, else text', async () => {
    files.write(
      'people.csv',
      [
        'id,big,price,ratio,active,seen_at,born,wakes,zip,note,nothing,mixed',
        '1,9223372036854775807,12.50,1.5e3,true,2026-11-21T10:00:00.123456Z,1900-01-01,07:30:00,00123,"",,1',
        '2,9007199254740993,-0.0000000001,-2E-5,FALSE,2026-11-21 12:00:00+02:00,2099-12-31,23:59:59.999999,94110,plain,,x',
        '-3,,100,,,,,,,,,2.5',
      ].join('\n'),
    )
    const connector = files.connect('csv')
    const info = await connector.describe('people')
    expect(info.primaryKey).toEqual([])
    expect(Object.fromEntries(info.fields.map((f) => [f.name, f.type]))).toEqual({
      id: 'integer',
      big: 'integer',
      price: 'decimal',
      ratio: 'float',
      active: 'boolean',
      seen_at: 'timestamp',
      born: 'date',
      wakes: 'time',
      zip: 'text',
      note: 'text',
      nothing: 'text',
      mixed: 'text',
    })
    expect(info.fields.every((f) => f.nullable)).toBe(true)
    const rows = await readRows(connector, 'people', ['id'])
    expect(rows.map((r) => r.id)).toEqual([-3, 1, 2])
    const [, first, second] = rows
    expect(first).toEqual({
      id: 1,
      big: 2n ** 63n - 1n,
      price: '12.50',
      ratio: 1500,
      active: true,
      seen_at: '2026-11-21T10:00:00.123456Z',
      born: '1900-01-01',
      wakes: '07:30:00',
      zip: '00123',
      note: '',
      nothing: null,
      mixed: '1',
    })
    expect(second).toMatchObject({ big: 2n ** 53n + 1n, price: '-0.0000000001', ratio: -2e-5, active: false, seen_at: '2026-11-21T10:00:00.000000Z', note: 'plain' })
  })

  it('timestamps without a zone are local and keep their digits; a field mixing both kinds is zoned', async () => {
    files.write('clocks.csv', 'id,wall,mixed\n1,2026-03-29 02:30,2026-03-29 02:30\n2,2026-10-25T02:30:00.123456,2026-10-25T02:30:00Z\n')
    const connector = files.connect('csv')
    expect((await connector.describe('clocks')).fields.map((f) => f.type)).toEqual(['integer', 'localtimestamp', 'timestamp'])
    expect(await readRows(connector, 'clocks', ['id'])).toEqual([
      { id: 1, wall: '2026-03-29T02:30:00.000000', mixed: '2026-03-29T02:30:00.000000Z' },
      { id: 2, wall: '2026-10-25T02:30:00.123456', mixed: '2026-10-25T02:30:00.000000Z' },
    ])
  })

  it('integers and decimals together are decimals, integers beyond 64 bits too; numbers with an exponent make floats', async () => {
    // With a byte order mark, as spreadsheet programs write: it is not part of the first name.
    files.write('numbers.csv', '\uFEFFa,b,c,d\n1,1,1,1\n2.25,1e2,x,-123456789012345678901234567890\n')
    const connector = files.connect('csv')
    expect((await connector.describe('numbers')).fields.map((f) => f.name)).toEqual(['a', 'b', 'c', 'd'])
    expect((await connector.describe('numbers')).fields.map((f) => f.type)).toEqual(['decimal', 'float', 'text', 'decimal'])
    // Beyond 64 bits an integer is read as an exact decimal.
    expect((await readRows(connector, 'numbers', ['a'])).map((r) => r.d)).toEqual(['1', '-123456789012345678901234567890'])
  })

  it("the plan's keys order a file without a primary key, and filters run on the inferred types", async () => {
    files.write('keyed.csv', 'code,qty\nb,10\na,9\nc,100\n')
    const connector = files.connect('csv')
    const batches: string[][] = []
    for await (const batch of connector.scan('keyed', { fields: ['qty'], keys: ['code'], batchSize: 2, filters: [{ field: 'qty', op: '>=', value: 10 }] })) {
      batches.push(batch.map((r) => String(r.code)))
    }
    expect(batches).toEqual([['b', 'c']])
    expect(await connector.count('keyed', [{ field: 'qty', op: '<', value: 50 }])).toBe(2)
  })

  it('NDJSON: numbers keep their digits, objects and arrays are json, strings stay text unless temporal', async () => {
    files.write(
      'events.ndjson',
      [
        '{"id": 1, "big": 9223372036854775807, "amount": 0.1000000000000000055, "ratio": 1e-7, "ok": true, "at": "2026-11-21T10:00:00.5Z", "code": "123", "payload": {"b": 1, "a": [1, 2]}}',
        '{"id": 2, "big": 9007199254740993, "amount": 2, "ratio": 2.5E3, "ok": false, "at": null, "code": "abc", "payload": "text"}',
        '',
        '{"id": 3}',
      ].join('\n'),
    )
    const connector = files.connect('ndjson')
    const info = await connector.describe('events')
    expect(Object.fromEntries(info.fields.map((f) => [f.name, f.type]))).toEqual({
      id: 'integer',
      big: 'integer',
      amount: 'decimal',
      ratio: 'float',
      ok: 'boolean',
      at: 'timestamp',
      code: 'text',
      payload: 'json',
    })
    const rows = await readRows(connector, 'events', ['id'])
    expect(rows[0]).toEqual({
      id: 1,
      big: 2n ** 63n - 1n,
      amount: '0.1000000000000000055',
      ratio: 1e-7,
      ok: true,
      at: '2026-11-21T10:00:00.500000Z',
      code: '123',
      payload: '{"a":[1,2],"b":1}',
    })
    expect(rows[1]).toMatchObject({ big: 2n ** 53n + 1n, amount: '2', at: null, payload: '"text"' })
    expect(rows[2]).toEqual({ id: 3, big: null, amount: null, ratio: null, ok: null, at: null, code: null, payload: null })
  })

  it('writing to an inferred file keeps its types and adds the sidecar', async () => {
    files.write('grow.csv', 'id,amount\n2,1.50\n1,2.00\n')
    const connector = files.connect('csv')
    await connector.apply('grow', { upserts: [{ id: 3, amount: '3.25' }], deletes: [[2]] }, { keys: ['id'] })
    await connector.commit!('grow')
    expect(files.read('grow.csv')).toBe('id,amount\n1,2.00\n3,3.25\n')
    expect(JSON.parse(files.read('grow.schema.json'))).toMatchObject({
      fields: [
        { name: 'id', type: 'integer' },
        { name: 'amount', type: 'decimal' },
      ],
      primaryKey: [],
      sortedBy: ['id'],
    })
  })
})
