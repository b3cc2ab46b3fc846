/**
 * The every-type fixture: one field per canonical type and rows at each
 * type's edges (and NULLs). The round-trip cases write and read it; the
 * change-capture cases check that change records carry the same values.
 * `wall` (local timestamps) holds wall-clock times that do not exist
 * (2026-03-29 02:30, spring forward) or happen twice (2026-10-25 02:30) in
 * Europe/Berlin: they must come back as written, never shifted.
 */
import type { Row } from '../../src/values/canonical.js'
import { field } from './fixtures.js'

/** Fields of every canonical type; `id` is the key. */
export const EVERY_TYPE_FIELDS = [
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
  field('wall', 'localtimestamp'),
  field('day', 'date'),
  field('clock', 'time'),
  field('doc', 'json'),
]

/** 100,000 characters (code points) mixing ASCII, accents, CJK, astral symbols and newlines. */
const LONG_TEXT = Array.from({ length: 100_000 }, (_, i) => ['a', 'é', '中', '😀', '\n'][i % 5]).join('')

/** Rows at the edges of every type, then one NULL in every nullable field. */
export const EVERY_TYPE_ROWS: Row[] = [
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
    wall: '2026-03-29T02:30:00.000000',
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
    wall: '0001-01-01T00:00:00.000000',
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
    wall: '9999-12-31T23:59:59.999999',
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
    wall: '2026-10-25T02:30:00.123456',
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
    wall: null,
    day: null,
    clock: null,
    doc: '5',
  },
  // NULL in every nullable column.
  { id: 99, flag: null, big: null, amount: null, ratio: null, label: null, short: null, uid: null, blob: null, at: null, wall: null, day: null, clock: null, doc: null },
]
