/**
 * PostgreSQL values read and written as canonical values: exact integers and
 * decimals, microsecond timestamps in UTC, canonical JSON, bytes with zero
 * bytes, lower-case UUIDs; everything else as PostgreSQL's own text.
 */
import { describe, expect, it } from 'vitest'
import { decodeDate, decodeFloat4, decodeInt8, decodeLocalTimestamp, decodeTimestamp, decodeTimetz, encodeArrayLiteral } from '../../../src/connectors/postgres/codec.js'
import { createPostgresConnector } from '../../../src/connectors/postgres/connector.js'
import { COPY_MIN_ROWS } from '../../../src/connectors/postgres/sink.js'
import type { Row } from '../../../src/values/canonical.js'
import { hasPostgres } from '../../helpers/services.js'
import { scanAll, usePgFixture } from './fixture.js'

describe('decoding PostgreSQL text', () => {
  it('keeps int8 exact: number when safe, bigint beyond 2^53', () => {
    expect(decodeInt8('42')).toBe(42)
    expect(decodeInt8('9007199254740991')).toBe(9007199254740991)
    expect(decodeInt8('9007199254740993')).toBe(9007199254740993n)
    expect(decodeInt8('-9223372036854775808')).toBe(-9223372036854775808n)
  })

  it('reads timestamps as canonical UTC with six fraction digits', () => {
    expect(decodeTimestamp('2026-11-21 10:00:00+00')).toBe('2026-11-21T10:00:00.000000Z')
    expect(decodeTimestamp('2026-11-21 10:00:00.5+00')).toBe('2026-11-21T10:00:00.500000Z')
    expect(decodeTimestamp('2026-11-21 10:00:00.123456')).toBe('2026-11-21T10:00:00.123456Z')
    expect(decodeTimestamp('2026-11-21 12:00:00.000001+02')).toBe('2026-11-21T10:00:00.000001Z')
    expect(decodeTimestamp('10000-01-01 00:00:00+00')).toBe('10000-01-01T00:00:00.000000Z')
    // PostgreSQL has no year 0: 1 BC is ISO year 0000.
    expect(decodeTimestamp('0001-01-01 00:00:00+00 BC')).toBe('0000-01-01T00:00:00.000000Z')
    expect(decodeTimestamp('infinity')).toBe('infinity')
    expect(decodeDate('0044-03-15 BC')).toBe('-0043-03-15')
  })

  it('reads timestamp without time zone as a local timestamp: the stored digits, no zone', () => {
    expect(decodeLocalTimestamp('2026-03-29 02:30:00')).toBe('2026-03-29T02:30:00.000000')
    expect(decodeLocalTimestamp('2026-11-21 10:00:00.123456')).toBe('2026-11-21T10:00:00.123456')
    expect(decodeLocalTimestamp('0001-01-01 00:00:00')).toBe('0001-01-01T00:00:00.000000')
    expect(decodeLocalTimestamp('0001-01-01 00:00:00 BC')).toBe('0000-01-01T00:00:00.000000')
    expect(decodeLocalTimestamp('-infinity')).toBe('-infinity')
  })

  it('reads timetz as the UTC time of day', () => {
    expect(decodeTimetz('10:00:00.5+02')).toBe('08:00:00.500000')
    expect(decodeTimetz('01:30:00+05:30')).toBe('20:00:00')
    expect(decodeTimetz('23:00:00-02')).toBe('01:00:00')
  })

  it('reads a float4 as the shortest decimal naming it, so 0.1 stays 0.1', () => {
    expect(decodeFloat4('0.100000001')).toBe(0.1)
    expect(decodeFloat4('3.40282347e+38')).toBe(3.4028235e38)
    expect(decodeFloat4('NaN')).toBeNaN()
    expect(decodeFloat4('-Infinity')).toBe(-Infinity)
  })

  it('quotes every array element and escapes quotes and backslashes', () => {
    expect(encodeArrayLiteral(['a', 'b"c', 'd\\e', '', null, ' {x, y} '], { type: 'text' })).toBe('{"a","b\\"c","d\\\\e","",NULL," {x, y} "}')
    expect(encodeArrayLiteral([Buffer.from([0, 255])], { type: 'bytes' })).toBe('{"\\\\x00ff"}')
    expect(encodeArrayLiteral([9007199254740993n, 1], { type: 'integer' })).toBe('{"9007199254740993","1"}')
  })
})

const TABLE = `CREATE TABLE every_type (
  id int PRIMARY KEY,
  i8 bigint, i4 integer, i2 smallint,
  dec numeric(38,10), dec_any numeric,
  f8 double precision, f4 real,
  t text, vc varchar(20), ch char(5),
  b boolean,
  d date, tm time, ttz timetz, ts timestamp, tstz timestamptz,
  js json, jsb jsonb,
  by bytea,
  u uuid,
  mood mood,
  ints integer[], span interval, addr inet
)`

/** One row per interesting value; `id` orders them. */
const ROWS: Row[] = [
  {
    id: 1,
    i8: 9007199254740993n,
    i4: -2147483648,
    i2: 32767,
    dec: '1234567890123456789012345678.0123456789',
    dec_any: '-0.000000000000000000000000000001',
    f8: 0.1,
    f4: 0.1,
    t: 'quote \' double " backslash \\ tab \t newline \n emoji 😀 nul-free',
    vc: 'exactly twenty chars',
    ch: 'abcde',
    b: true,
    d: '2026-11-21',
    tm: '13:45:56.123456',
    ttz: '08:00:00.500000',
    ts: '2026-11-21T10:00:00.000001',
    tstz: '2026-11-21T23:59:59.999999Z',
    js: '{"a":[1,2,{"c":null,"d":9007199254740993}],"b":"x"}',
    jsb: '{"a":1,"aa":2,"b":{"y":0.1000000000000000055,"z":true}}',
    by: Buffer.from([0, 1, 0, 255, 0]),
    u: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
    mood: 'happy',
    ints: '[1,2,3]',
    span: '1 day 02:03:04.5',
    addr: '192.168.0.1/24',
  },
  {
    id: 2,
    i8: -9223372036854775808n,
    i4: 0,
    i2: -32768,
    dec: '-0.0000000001',
    dec_any: '12345678901234567890.5',
    f8: Number.NaN,
    f4: Number.POSITIVE_INFINITY,
    t: '',
    vc: 'é',
    ch: 'a  ',
    b: false,
    d: '1970-01-01',
    tm: '00:00:00',
    ttz: '23:59:59.999999',
    ts: '1999-12-31T23:59:59.000000',
    tstz: '1970-01-01T00:00:00.000000Z',
    js: '[]',
    jsb: '{}',
    by: Buffer.alloc(0),
    u: '00000000-0000-0000-0000-000000000000',
    mood: 'sad',
    ints: '[]',
    span: '00:00:00',
    addr: '::1',
  },
  {
    id: 3,
    i8: null,
    i4: null,
    i2: null,
    dec: null,
    dec_any: null,
    f8: Number.NEGATIVE_INFINITY,
    f4: null,
    t: null,
    vc: null,
    ch: null,
    b: null,
    d: null,
    tm: null,
    ttz: null,
    ts: null,
    tstz: null,
    js: null,
    jsb: null,
    by: null,
    u: null,
    mood: null,
    ints: null,
    span: null,
    addr: null,
  },
]

const FIELDS = Object.keys(ROWS[0]!)

describe.skipIf(!(await hasPostgres()))('PostgreSQL codec round trips', () => {
  const pg = usePgFixture()

  it('writes and reads back every type exactly (unnest upsert)', async () => {
    await pg.sql(`CREATE TYPE mood AS ENUM ('sad', 'happy')`)
    await pg.sql(TABLE)
    await pg.connector().apply('every_type', { upserts: ROWS, deletes: [] }, { keys: ['id'] })
    const { rows } = await scanAll(pg.connector(), 'every_type', { fields: FIELDS, keys: ['id'] })
    // char(n) reads without its padding, as PostgreSQL's own cast to text does.
    expect(rows).toEqual(ROWS.map((r) => (r.id === 2 ? { ...r, ch: 'a' } : r)))
  })

  it('writes the same values through the COPY path (allNew, large batch)', async () => {
    await pg.sql('CREATE TABLE every_type_copy (LIKE every_type INCLUDING ALL)')
    const padding = Array.from({ length: COPY_MIN_ROWS }, (_, i) => ({ ...ROWS[2]!, id: 100 + i }))
    const result = await pg.connector().apply('every_type_copy', { upserts: [...ROWS, ...padding], deletes: [] }, { keys: ['id'], allNew: true })
    expect(result.upserted).toBe(ROWS.length + padding.length)
    const { rows } = await scanAll(pg.connector(), 'every_type_copy', { fields: FIELDS, keys: ['id'], filters: [{ field: 'id', op: '<', value: 100 }] })
    expect(rows).toEqual(ROWS.map((r) => (r.id === 2 ? { ...r, ch: 'a' } : r)))
  })

  it('reads values written by other clients in canonical form', async () => {
    await pg.sql(
      `INSERT INTO every_type (id, tstz, ts, ttz, js, jsb, u, f4, dec)
       VALUES (10, '2026-11-21 12:00:00.123456+02', '2026-11-21 10:00:00.5', '10:00:00+02', '{"b": 1,  "a": 2}', '{"b": 1, "a": 2}',
               'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', 0.1, 1.50)`,
    )
    const [row] = await pg.connector().lookup('every_type', ['id'], [[10]], ['tstz', 'ts', 'ttz', 'js', 'jsb', 'u', 'f4', 'dec'])
    expect(row).toEqual({
      id: 10,
      tstz: '2026-11-21T10:00:00.123456Z',
      ts: '2026-11-21T10:00:00.500000',
      ttz: '08:00:00',
      js: '{"a":2,"b":1}',
      jsb: '{"a":2,"b":1}',
      u: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
      f4: 0.1,
      dec: '1.5000000000',
    })
  })

  it('reads canonical values whatever time zone and date style the server or URL default to', async () => {
    const url = new URL(pg.url())
    url.searchParams.set('options', '-c TimeZone=America/New_York -c DateStyle=SQL,DMY -c extra_float_digits=0')
    const other = createPostgresConnector({ name: 'elsewhere', url: url.toString() })
    try {
      const [row] = await other.lookup('every_type', ['id'], [[1]], ['tstz', 'ts', 'd', 'f8', 'ttz'])
      expect(row).toEqual({ id: 1, tstz: ROWS[0]!.tstz, ts: ROWS[0]!.ts, d: ROWS[0]!.d, f8: ROWS[0]!.f8, ttz: ROWS[0]!.ttz })
    } finally {
      await other.close()
    }
  })

  it('describes types it reads as text with their native type', async () => {
    const info = await pg.connector().describe('every_type')
    const byName = new Map(info.fields.map((f) => [f.name, f]))
    expect(byName.get('ints')).toMatchObject({ type: 'array', elementType: 'integer', nativeType: 'integer[]' })
    expect(byName.get('span')).toMatchObject({ type: 'text', nativeType: 'interval' })
    expect(byName.get('mood')).toMatchObject({ type: 'enum', enumValues: ['sad', 'happy'], nativeType: 'mood' })
    expect(byName.get('ttz')).toMatchObject({ type: 'time', nativeType: 'time with time zone' })
    expect(byName.get('dec')).toMatchObject({ type: 'decimal', nativeType: 'numeric(38,10)', precision: 38, scale: 10 })
    expect(byName.get('vc')).toMatchObject({ type: 'text', maxLength: 20 })
    expect(byName.get('i8')).toMatchObject({ type: 'integer', nativeType: 'bigint' })
    expect(byName.get('by')).toMatchObject({ type: 'bytes', nativeType: 'bytea' })
  })

  it('does not touch pg global type parsers', async () => {
    const pgModule = (await import('pg')).default
    // 1184 = timestamptz: still pg's Date parser for everyone else in the process.
    expect(pgModule.types.getTypeParser(1184, 'text')('2026-11-21 10:00:00+00')).toBeInstanceOf(Date)
  })
})
