/**
 * MySQL/MariaDB values into canonical values and back: exact integers
 * (BIGINT UNSIGNED included), DECIMAL(65,30), microseconds, TIME as a time
 * of day, JSON key order, bytes with zeros, 4-byte UTF-8 and NULLs, read
 * from tables created natively (not by syncline).
 */
import { describe, expect, it } from 'vitest'
import { DecodeProblem, decodeDate, decodeDateTime, decodeFloat32, decodeLocalTimestamp, decodeInt64, decodeTime, encodeDateTime } from '../../../src/connectors/mysql/codec.js'
import { RecordError } from '../../../src/errors.js'
import { hasMysql } from '../../helpers/services.js'
import { rejection, scanAll, useMysqlFixture } from './fixture.js'

describe('MySQL codec', () => {
  it('reads int64 exactly: a number when safe, a bigint beyond', () => {
    expect(decodeInt64(42)).toBe(42)
    expect(decodeInt64('9007199254740993')).toBe(9007199254740993n)
    expect(decodeInt64('18446744073709551615')).toBe(18446744073709551615n)
    expect(decodeInt64('-9223372036854775808')).toBe(-9223372036854775808n)
  })

  it('reads FLOAT as the shortest decimal of its float32', () => {
    expect(decodeFloat32(0.10000000149011612)).toBe(0.1)
    expect(decodeFloat32(3.4028234663852886e38)).toBe(3.4028235e38)
    expect(decodeFloat32(-0)).toBe(-0)
  })

  it('reads a DATETIME as a local timestamp: the digits as stored, no zone', () => {
    expect(decodeLocalTimestamp('2026-03-29T02:30:00.000000')).toBe('2026-03-29T02:30:00.000000')
    expect(decodeLocalTimestamp('2026-03-29 02:30:00.5')).toBe('2026-03-29T02:30:00.500000')
    expect(decodeLocalTimestamp('9999-12-31 23:59:59.999999')).toBe('9999-12-31T23:59:59.999999')
    expect(() => decodeLocalTimestamp('0000-00-00T00:00:00.000000')).toThrow(DecodeProblem)
    expect(encodeDateTime('2026-03-29T02:30:00.000001')).toBe('2026-03-29 02:30:00.000001')
  })

  it('reads DATETIME text as a UTC instant with six fraction digits, and refuses zero dates', () => {
    expect(decodeDateTime('2026-11-21 10:00:00.123456')).toBe('2026-11-21T10:00:00.123456Z')
    expect(decodeDateTime('2026-11-21 10:00:00.5')).toBe('2026-11-21T10:00:00.500000Z')
    expect(decodeDateTime('0001-01-01 00:00:00')).toBe('0001-01-01T00:00:00.000000Z')
    expect(() => decodeDateTime('0000-00-00 00:00:00')).toThrow(DecodeProblem)
    expect(() => decodeDateTime('2026-00-10 00:00:00')).toThrow(DecodeProblem)
    expect(decodeDate('2099-12-31')).toBe('2099-12-31')
    expect(() => decodeDate('0000-00-00')).toThrow(DecodeProblem)
    expect(encodeDateTime('2026-11-21T10:00:00.123456Z')).toBe('2026-11-21 10:00:00.123456')
    expect(encodeDateTime('2026-11-21T12:00:00+02:00')).toBe('2026-11-21 10:00:00.000000')
  })

  it('reads TIME as a time of day, and a duration outside 0-24 h as a problem, not a wrapped value', () => {
    expect(decodeTime('23:59:59.999999')).toBe('23:59:59.999999')
    expect(decodeTime('12:34:56.5')).toBe('12:34:56.500000')
    expect(decodeTime('00:00:00')).toBe('00:00:00')
    expect(decodeTime('24:00:00')).toBe('24:00:00')
    expect(decodeTime('-00:00:00')).toBe('00:00:00')
    for (const bad of ['838:59:59', '25:00:00', '-01:00:00', '24:00:00.000001']) expect(() => decodeTime(bad)).toThrow(DecodeProblem)
  })
})

describe.skipIf(!(await hasMysql()))('MySQL codec against the server', () => {
  const my = useMysqlFixture()

  it('round-trips edge values of native columns exactly', async () => {
    await my.sql(`CREATE TABLE edges (
      id INT PRIMARY KEY, ubig BIGINT UNSIGNED, sbig BIGINT, dec65 DECIMAL(65,30), dt DATETIME(6), ts TIMESTAMP(6) NULL,
      t TIME(6), doc JSON, blobby BLOB, txt TEXT, f FLOAT, d DOUBLE, flag BOOLEAN, yr YEAR, bits BIT(10), one_bit BIT(1),
      e ENUM('small', 'large'), u UUID) DEFAULT CHARSET utf8mb4 COLLATE utf8mb4_general_ci`)
    const row = {
      id: 1,
      ubig: 18446744073709551615n,
      sbig: -9223372036854775808n,
      dec65: '12345678901234567890123456789012345.123456789012345678901234567890',
      dt: '2026-11-21T10:00:00.123456',
      ts: '2038-01-19T03:14:07.999999Z',
      t: '23:59:59.000001',
      doc: '{ "b": [1, {"z": 2, "a": null}], "a": "😀" }',
      blobby: new Uint8Array([0, 1, 0, 255, 0]),
      txt: 'emoji 😀👍🏽, astral \u{10FFFF}, combining e\u0301, NUL \u0000 inside',
      f: 0.1,
      d: 1.7976931348623157e308,
      flag: true,
      yr: 2155,
      bits: 1023,
      one_bit: true,
      e: 'large',
      u: '123E4567-E89B-12D3-A456-426614174000',
    }
    await my.connector().apply('edges', { upserts: [row, { id: 2 }], deletes: [] }, { keys: ['id'] })
    const fields = Object.keys(row).filter((k) => k !== 'id')
    const { rows } = await scanAll(my.connector(), 'edges', { fields, keys: ['id'] })
    expect(rows[0]).toEqual({
      ...row,
      doc: '{"a":"😀","b":[1,{"a":null,"z":2}]}',
      blobby: Buffer.from([0, 1, 0, 255, 0]),
      u: '123e4567-e89b-12d3-a456-426614174000',
    })
    // Absent fields were not written, so they hold their defaults: NULL everywhere.
    expect(rows[1]).toEqual({ id: 2, ...Object.fromEntries(fields.map((f) => [f, null])) })
  })

  it('reads TIMESTAMP in UTC whatever the server time zone, and DATETIME as written', async () => {
    await my.sql('CREATE TABLE times (id INT PRIMARY KEY, ts TIMESTAMP(6) NULL, dt DATETIME(6))')
    // Written by a session in +05:00 (MariaDB's SET STATEMENT): that instant is 10:00 UTC.
    await my.sql(`SET STATEMENT time_zone = '+05:00' FOR INSERT INTO times VALUES (1, '2026-11-21 15:00:00.000001', '2026-11-21 15:00:00.000001')`)
    const { rows } = await scanAll(my.connector(), 'times', { fields: ['ts', 'dt'], keys: ['id'] })
    // DATETIME has no zone: the digits as written, a local timestamp.
    expect(rows).toEqual([{ id: 1, ts: '2026-11-21T10:00:00.000001Z', dt: '2026-11-21T15:00:00.000001' }])
  })

  it('a TIME beyond 24 hours is a RecordError naming the record and the field', async () => {
    await my.sql('CREATE TABLE durations (id INT PRIMARY KEY, spent TIME)')
    await my.sql(`INSERT INTO durations VALUES (1, '10:00:00'), (2, '100:00:00')`)
    const error = await rejection(scanAll(my.connector(), 'durations', { fields: ['spent'], keys: ['id'] }))
    expect(error).toBeInstanceOf(RecordError)
    expect(error).toMatchObject({ code: 'VALUE_REJECTED', failure: 'data' })
    expect(error.message).toContain('id=2')
    expect(error.message).toContain('spent')
    expect(error.message).toContain('100:00:00')
  })

  it('reads FLOAT columns as their float32 value, in scans and lookups alike', async () => {
    await my.sql('CREATE TABLE singles (id INT PRIMARY KEY, f FLOAT)')
    await my.sql('INSERT INTO singles VALUES (1, 16777217), (2, 3.4028234e38), (3, 1.17549435e-38), (4, 0.3), (5, -1.5e-7)')
    const expected = [16777216, 3.4028235e38, 1.1754944e-38, 0.3, -1.5e-7]
    const { rows } = await scanAll(my.connector(), 'singles', { fields: ['f'], keys: ['id'] })
    expect(rows.map((r) => r.f)).toEqual(expected)
    const looked = await my.connector().lookup('singles', ['id'], [[1], [2], [3], [4], [5]], ['f'])
    expect(looked.sort((a, b) => Number(a.id) - Number(b.id)).map((r) => r.f)).toEqual(expected)
  })

  it('detects MariaDB JSON (LONGTEXT with json_valid) and the UUID type', async () => {
    await my.sql('CREATE TABLE docs (id INT PRIMARY KEY, doc JSON, plain LONGTEXT, u UUID, c CHAR(36))')
    const info = await my.connector().describe('docs')
    const types = Object.fromEntries(info.fields.map((f) => [f.name, [f.type, f.nativeType]]))
    expect(types).toMatchObject({ doc: ['json', 'json'], plain: ['text', expect.stringContaining('longtext')], u: ['uuid', 'uuid'], c: ['text', expect.stringContaining('char(36)')] })
  })

  it('writes integers and decimals exactly and compares them exactly in filters', async () => {
    await my.sql('CREATE TABLE exact (id BIGINT UNSIGNED PRIMARY KEY, amount DECIMAL(65,30))')
    const rows = [
      { id: 18446744073709551614n, amount: '0.000000000000000000000000000001' },
      { id: 18446744073709551615n, amount: '0.000000000000000000000000000002' },
    ]
    await my.connector().apply('exact', { upserts: rows, deletes: [] }, { keys: ['id'] })
    const above = await scanAll(my.connector(), 'exact', { fields: ['amount'], keys: ['id'], filters: [{ field: 'id', op: '>', value: 18446744073709551614n }] })
    expect(above.rows.map((r) => r.id)).toEqual([18446744073709551615n])
    const small = await scanAll(my.connector(), 'exact', { fields: ['amount'], keys: ['id'], filters: [{ field: 'amount', op: '>', value: '0.0000000000000000000000000000015' }] })
    expect(small.rows.map((r) => r.id)).toEqual([18446744073709551615n])
  })
})
