/**
 * Conformance: every canonical type, at its edges, is written and read back
 * equal (valuesEqual) and in its canonical JavaScript representation.
 */
import { describe, expect, it } from 'vitest'
import type { Row } from '../../src/values/canonical.js'
import { expectRows, field, scanAll, seed, useConnector } from './fixtures.js'
import { HARNESSES } from './harnesses.js'

const FIELDS = [
  field('id', 'integer', { nullable: false }),
  field('flag', 'boolean'),
  field('big', 'integer'),
  field('amount', 'decimal', { precision: 38, scale: 10 }),
  field('ratio', 'float'),
  field('label', 'text'),
  field('short', 'text', { maxLength: 255 }),
  field('uid', 'uuid'),
  field('blob', 'bytes'),
  field('at', 'timestamp'),
  field('day', 'date'),
  field('clock', 'time'),
  field('doc', 'json'),
]

/** 100,000 characters (code points) mixing ASCII, accents, CJK, astral symbols and newlines. */
const LONG_TEXT = Array.from({ length: 100_000 }, (_, i) => ['a', 'é', '中', '😀', '\n'][i % 5]).join('')

const ROWS: Row[] = [
  {
    id: 1,
    flag: true,
    big: -(2n ** 63n),
    amount: '1234567890123456789012345678.0123456789',
    ratio: 1.7976931348623157e308,
    label: '',
    short: '😀'.repeat(255),
    uid: '123e4567-e89b-12d3-a456-426614174000',
    blob: new Uint8Array([0, 1, 0, 255, 0]),
    at: '2026-11-21T10:00:00.123456Z',
    day: '1900-01-01',
    clock: '23:59:59.999999',
    doc: '{"a":[1,2,{"b":null,"c":"x"}],"d":{"e":true,"f":1.5},"z":"ü😀"}',
  },
  {
    id: 2,
    flag: false,
    big: 2n ** 63n - 1n,
    amount: '-1234567890123456789012345678.0123456789',
    ratio: -1.7976931348623157e308,
    label: LONG_TEXT,
    short: 'x'.repeat(255),
    uid: 'ffffffff-ffff-ffff-ffff-ffffffffffff',
    blob: new Uint8Array([]),
    at: '1900-01-01T00:00:00.000001Z',
    day: '2099-12-31',
    clock: '00:00:00',
    doc: '[]',
  },
  {
    id: 3,
    flag: true,
    big: 2n ** 53n + 1n,
    amount: '0.0000000001',
    ratio: 5e-324,
    label: 'emoji 👍🏽 👨‍👩‍👧 🏳️‍🌈, combining e\u0301 a\u0308 \u0915\u094d\u0937',
    short: 'שלום עולם مرحبا بالعالم',
    uid: '00000000-0000-0000-0000-000000000000',
    blob: Uint8Array.from({ length: 256 }, (_, i) => i),
    at: '2099-12-31T23:59:59.999999Z',
    day: '2000-02-29',
    clock: '12:34:56.000001',
    doc: '{"big":12345678901234567890,"deep":[[[{"k":[]}]]],"neg":-0.000001,"s":"line\\nbreak \\"q\\""}',
  },
  {
    id: 4,
    flag: false,
    big: Number.MAX_SAFE_INTEGER,
    amount: '0',
    ratio: 2.2250738585072014e-308,
    label: 'tab\there\nnew\r\nline "double" \'single\' back\\slash \\\\ %_ ; -- /* */ \u0001',
    short: "'; DROP TABLE conf_types; --",
    uid: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
    blob: new Uint8Array([0]),
    at: '1970-01-01T00:00:00.000000Z',
    day: '1970-01-01',
    clock: '00:00:00.000001',
    doc: '"just a string"',
  },
  {
    id: 5,
    flag: null,
    big: -Number.MAX_SAFE_INTEGER,
    amount: '-0.5',
    ratio: 0.30000000000000004,
    label: 'null',
    short: 'NULL',
    uid: null,
    blob: null,
    at: '2000-02-29T12:00:00.000000Z',
    day: null,
    clock: null,
    doc: '5',
  },
  // NULL in every nullable column.
  { id: 99, flag: null, big: null, amount: null, ratio: null, label: null, short: null, uid: null, blob: null, at: null, day: null, clock: null, doc: null },
]

for (const harness of HARNESSES) {
  describe.skipIf(!(await harness.available()))(`${harness.kind}: round trip`, () => {
    const connector = useConnector(harness)
    const names = FIELDS.map((f) => f.name).filter((n) => n !== 'id')

    it('every canonical type comes back equal, edge values and NULLs included', async () => {
      await seed(connector(), 'conf_types', FIELDS, ['id'], ROWS)
      const { rows } = await scanAll(connector(), 'conf_types', { fields: names, keys: ['id'], batchSize: 2 })
      expectRows(FIELDS, rows, ROWS)
    })

    it('values come back in their canonical representation', async () => {
      await seed(connector(), 'conf_types', FIELDS, ['id'], ROWS)
      const { rows } = await scanAll(connector(), 'conf_types', { fields: names, keys: ['id'] })
      const byId = new Map(rows.map((r) => [r.id, r]))
      // Integers: a number within 2^53, a bigint beyond, never rounded.
      expect(byId.get(2)!.big).toBe(2n ** 63n - 1n)
      expect(byId.get(3)!.big).toBe(2n ** 53n + 1n)
      expect(byId.get(4)!.big).toBe(Number.MAX_SAFE_INTEGER)
      expect(typeof byId.get(1)!.id).toBe('number')
      expect(byId.get(1)!.flag).toBe(true)
      expect(byId.get(1)!.blob).toBeInstanceOf(Uint8Array)
      expect(byId.get(1)!.at).toBe('2026-11-21T10:00:00.123456Z')
      expect(byId.get(2)!.clock).toBe('00:00:00')
      expect(byId.get(1)!.doc).toBe(ROWS[0]!.doc)
      expect(typeof byId.get(1)!.amount).toBe('string')
      expect([...(byId.get(2)!.label as string)].length).toBe(100_000)
    })

    it('lookup reads the same values as scan', async () => {
      await seed(connector(), 'conf_types', FIELDS, ['id'], ROWS)
      const rows = await connector().lookup('conf_types', ['id'], [[3], [1], [12345]], names)
      const sorted = [...rows].sort((a, b) => Number(a.id) - Number(b.id))
      expectRows(FIELDS, sorted, [ROWS[0]!, ROWS[2]!])
    })

    it('JSON is canonical whatever key order and spacing it was written with', async () => {
      const fields = [field('id', 'integer', { nullable: false }), field('doc', 'json')]
      await seed(connector(), 'conf_json', fields, ['id'], [{ id: 1, doc: '{ "b" : 1, "a" : { "d": [1, 2], "c": null } }' }])
      const { rows } = await scanAll(connector(), 'conf_json', { fields: ['doc'], keys: ['id'] })
      expect(rows[0]!.doc).toBe('{"a":{"c":null,"d":[1,2]},"b":1}')
    })
  })
}
