/**
 * The file connector writes every canonical type in a form that reads back
 * exactly (through the file on disk and its sidecar), in CSV and NDJSON,
 * with the file text users and other tools see.
 */
import { describe, expect, it } from 'vitest'
import type { FieldInfo, Row } from '../../../src/values/canonical.js'
import { expectRows, field } from '../../conformance/fixtures.js'
import { readRows, useFileDir } from './fixture.js'

const FIELDS: FieldInfo[] = [
  field('id', 'integer', { nullable: false }),
  field('flag', 'boolean'),
  field('big', 'integer'),
  field('amount', 'decimal', { precision: 38, scale: 10 }),
  field('ratio', 'float'),
  field('label', 'text'),
  field('uid', 'uuid'),
  field('blob', 'bytes'),
  field('at', 'timestamp'),
  field('day', 'date'),
  field('clock', 'time'),
  field('doc', 'json'),
]

const ROWS: Row[] = [
  {
    id: 1,
    flag: true,
    big: 2n ** 63n - 1n,
    amount: '1234567890123456789012345678.0123456789',
    ratio: 5e-324,
    label: 'line 1\nline 2\r\nline 3, "quoted"; tab\there',
    uid: '123e4567-e89b-12d3-a456-426614174000',
    blob: new Uint8Array([0, 1, 0, 255, 0]),
    at: '2026-11-21T10:00:00.123456Z',
    day: '1900-01-01',
    clock: '23:59:59.999999',
    doc: '{"a":[1,2,{"b":null}],"big":12345678901234567890,"z":"ü😀"}',
  },
  {
    id: 2,
    flag: false,
    big: -(2n ** 63n),
    amount: '-0.0000000001',
    ratio: 1.7976931348623157e308,
    label: '',
    uid: null,
    blob: new Uint8Array([]),
    at: '1900-01-01T00:00:00.000001Z',
    day: '2099-12-31',
    clock: '00:00:00',
    doc: 'null',
  },
  {
    id: 3,
    flag: null,
    big: 2n ** 53n + 1n,
    amount: '12.50',
    ratio: 0.30000000000000004,
    label: 'emoji 👍🏽 👨‍👩‍👧 🏳️‍🌈, e\u0301, שלום, "", ,, NULL',
    uid: 'ffffffff-ffff-ffff-ffff-ffffffffffff',
    blob: Uint8Array.from({ length: 256 }, (_, i) => i),
    at: '2099-12-31T23:59:59.999999Z',
    day: '2000-02-29',
    clock: '12:34:56.000001',
    doc: '"just a string"',
  },
  { id: 4, flag: null, big: null, amount: null, ratio: null, label: null, uid: null, blob: null, at: null, day: null, clock: null, doc: null },
  { id: 5, flag: true, big: 0, amount: '0', ratio: -1.5e-10, label: '  spaces kept  ', uid: null, blob: null, at: null, day: null, clock: null, doc: '[]' },
]

for (const kind of ['csv', 'ndjson'] as const) {
  describe(`${kind} round trip`, () => {
    const files = useFileDir()

    it('every canonical type comes back exactly from the file, NULL and the empty string apart', async () => {
      const writer = files.connect(kind)
      await writer.ensureEntity('types', FIELDS, ['id'])
      // Written out of order: the file is sorted by key.
      await writer.apply('types', { upserts: [ROWS[2]!, ROWS[0]!, ROWS[4]!, ROWS[1]!, ROWS[3]!], deletes: [] }, { keys: ['id'] })
      await writer.commit!('types')

      const reader = files.connect(kind)
      const info = await reader.describe('types')
      expect(info.primaryKey).toEqual(['id'])
      expect(info.fields.map((f) => [f.name, f.type, f.nullable])).toEqual(FIELDS.map((f) => [f.name, f.type, f.nullable]))
      expect(info.fields.find((f) => f.name === 'amount')).toMatchObject({ precision: 38, scale: 10, nativeType: 'decimal(38,10)' })
      const rows = await readRows(reader, 'types', ['id'], 2)
      expectRows(FIELDS, rows, ROWS)
      expect(rows[0]!.big).toBe(2n ** 63n - 1n)
      expect(rows[1]!.big).toBe(-(2n ** 63n))
      // Written with the field's declared scale (decimal(38,10)), as a database prints it.
      expect(rows[2]!.amount).toBe('12.5000000000')
      expect(rows[1]!.label).toBe('')
      expect(rows[3]!.label).toBeNull()
      expect(rows[1]!.doc).toBe('null')
      expect(rows[3]!.doc).toBeNull()
      expect(rows[0]!.label).toBe(ROWS[0]!.label)
    })

    it('keeps a 100,000-character text with line breaks intact', async () => {
      const long = Array.from({ length: 100_000 }, (_, i) => ['a', 'é', '中', '😀', '\n', '"', ','][i % 7]).join('')
      const writer = files.connect(kind)
      await writer.ensureEntity('long', [field('id', 'integer', { nullable: false }), field('body', 'text')], ['id'])
      await writer.apply('long', { upserts: [{ id: 1, body: long }, { id: 2, body: 'after' }], deletes: [] }, { keys: ['id'] })
      await writer.commit!('long')
      const rows = await readRows(files.connect(kind), 'long', ['id'])
      expect(rows).toEqual([
        { id: 1, body: long },
        { id: 2, body: 'after' },
      ])
    })
  })
}

describe('file text', () => {
  const files = useFileDir()
  const fields = [
    field('id', 'integer', { nullable: false }),
    field('name', 'text'),
    field('amount', 'decimal', { precision: 12, scale: 2 }),
    field('big', 'integer'),
    field('at', 'timestamp'),
    field('raw', 'bytes'),
    field('ok', 'boolean'),
    field('doc', 'json'),
  ]
  const rows: Row[] = [
    { id: 2, name: '', amount: null, big: null, at: null, raw: null, ok: null, doc: null },
    { id: 1, name: 'a "b", c\nd', amount: '12.50', big: 2n ** 63n - 1n, at: '2026-11-21T10:00:00.123456Z', raw: new Uint8Array([0, 255]), ok: true, doc: '{"k":[1,"x"]}' },
  ]

  it('CSV: RFC 4180 quoting, "" for the empty string, nothing for NULL, canonical text forms, sorted by key', async () => {
    const writer = files.connect('csv')
    await writer.ensureEntity('shown', fields, ['id'])
    await writer.apply('shown', { upserts: rows, deletes: [] }, { keys: ['id'] })
    await writer.commit!('shown')
    expect(files.read('shown.csv')).toBe(
      'id,name,amount,big,at,raw,ok,doc\n' + '1,"a ""b"", c\nd",12.50,9223372036854775807,2026-11-21T10:00:00.123456Z,AP8=,true,"{""k"":[1,""x""]}"\n' + '2,"",,,,,,\n',
    )
    expect(JSON.parse(files.read('shown.schema.json'))).toEqual({
      fields: [
        { name: 'id', type: 'integer', nativeType: 'integer', nullable: false },
        { name: 'name', type: 'text', nativeType: 'text', nullable: true },
        { name: 'amount', type: 'decimal', nativeType: 'decimal(12,2)', nullable: true, precision: 12, scale: 2 },
        { name: 'big', type: 'integer', nativeType: 'integer', nullable: true },
        { name: 'at', type: 'timestamp', nativeType: 'timestamp', nullable: true },
        { name: 'raw', type: 'bytes', nativeType: 'bytes', nullable: true },
        { name: 'ok', type: 'boolean', nativeType: 'boolean', nullable: true },
        { name: 'doc', type: 'json', nativeType: 'json', nullable: true },
      ],
      primaryKey: ['id'],
      sortedBy: ['id'],
    })
  })

  it('NDJSON: big integers and decimals as strings, json embedded, NULL fields left out', async () => {
    const writer = files.connect('ndjson')
    await writer.ensureEntity('shown', fields, ['id'])
    await writer.apply('shown', { upserts: rows, deletes: [] }, { keys: ['id'] })
    await writer.commit!('shown')
    expect(files.read('shown.ndjson')).toBe(
      '{"id":1,"name":"a \\"b\\", c\\nd","amount":"12.50","big":"9223372036854775807","at":"2026-11-21T10:00:00.123456Z","raw":"AP8=","ok":true,"doc":{"k":[1,"x"]}}\n' +
        '{"id":2,"name":""}\n',
    )
    // Any JSON reader gets the exact values.
    const parsed = files.read('shown.ndjson').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>)
    expect(parsed[0]!.big).toBe('9223372036854775807')
  })

  it('a delimiter option writes and reads with that delimiter, quoting values that hold it', async () => {
    for (const [query, delimiter] of [
      ['?delimiter=;', ';'],
      ['?delimiter=\\t', '\t'],
      ['?delimiter=%7C', '|'],
    ] as const) {
      const writer = files.connect('csv', query)
      const entity = `delimited_${delimiter.charCodeAt(0)}`
      const two = [field('id', 'integer', { nullable: false }), field('v', 'text')]
      await writer.ensureEntity(entity, two, ['id'])
      await writer.apply(entity, { upserts: [{ id: 1, v: `a${delimiter}b` }, { id: 2, v: 'a,b' }], deletes: [] }, { keys: ['id'] })
      await writer.commit!(entity)
      expect(files.read(`${entity}.csv`)).toBe(`id${delimiter}v\n1${delimiter}"a${delimiter}b"\n2${delimiter}a,b\n`)
      expect(await readRows(files.connect('csv', query), entity, ['id'])).toEqual([
        { id: 1, v: `a${delimiter}b` },
        { id: 2, v: 'a,b' },
      ])
    }
  })
})
