/**
 * Range checksums computed in MariaDB's SQL must equal the JavaScript
 * checksum of the same rows as the codec decodes them (checksumByScan,
 * hashesByScan: what MariaDB did before, and what a PostgreSQL or SQLite
 * range is compared with), type by type and value by value, inside key
 * ranges with bounds on a composite key, with filters and limits. Types SQL
 * cannot spell exactly (FLOAT, DOUBLE, JSON, a SET member JSON escapes)
 * must go to the scan instead, and so must a row whose hash input is longer
 * than a string function may build.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { ChecksumField, Connector, RangeChecksumOptions, ScanOptions } from '../../../src/connectors/connector.js'
import { createMysqlConnector } from '../../../src/connectors/mysql/connector.js'
import { checksumByScan, hashesByScan } from '../../../src/connectors/sql/scan-checksum.js'
import type { CanonicalType, KeyValues } from '../../../src/values/canonical.js'
import { compareKeys } from '../../../src/values/compare.js'
import { createMysqlDatabase, hasMysql, mysqlQuery } from '../../helpers/services.js'
import { rejection, scanAll } from './fixture.js'

// Counts the connector's falls back to the scan; the expected values come from the real functions.
vi.mock('../../../src/connectors/sql/scan-checksum.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../../src/connectors/sql/scan-checksum.js')>()
  return { ...actual, checksumByScan: vi.fn(actual.checksumByScan), hashesByScan: vi.fn(actual.hashesByScan) }
})
const actual = await vi.importActual<typeof import('../../../src/connectors/sql/scan-checksum.js')>('../../../src/connectors/sql/scan-checksum.js')

/** [name, MariaDB type, canonical type, hashed in SQL]. */
const COLUMNS: [string, string, CanonicalType, boolean][] = [
  ['id', 'INT', 'integer', true],
  ['flag', 'TINYINT(1)', 'boolean', true],
  ['bit1', 'BIT(1)', 'boolean', true],
  ['tiny', 'TINYINT', 'integer', true],
  ['small', 'SMALLINT UNSIGNED', 'integer', true],
  ['med', 'MEDIUMINT', 'integer', true],
  ['big', 'BIGINT', 'integer', true],
  ['ubig', 'BIGINT UNSIGNED', 'integer', true],
  ['zf', 'INT(6) ZEROFILL', 'integer', true],
  ['bits', 'BIT(12)', 'integer', true],
  ['bit64', 'BIT(64)', 'integer', true],
  ['yr', 'YEAR', 'integer', true],
  ['amount', 'DECIMAL(20,6)', 'decimal', true],
  ['whole', 'DECIMAL(10,0)', 'decimal', true],
  ['zd', 'DECIMAL(8,2) ZEROFILL', 'decimal', true],
  ['wide', 'DECIMAL(65,30)', 'decimal', true],
  ['name', 'TEXT', 'text', true],
  ['code', 'VARCHAR(20) COLLATE utf8mb4_nopad_bin', 'text', true],
  ['ci', 'VARCHAR(20) COLLATE utf8mb4_general_ci', 'text', true],
  ['padded', 'CHAR(6)', 'text', true],
  ['latin', 'VARCHAR(20) CHARACTER SET latin1', 'text', true],
  ['tt', 'TINYTEXT', 'text', true],
  ['blob', 'BLOB', 'bytes', true],
  ['bin', 'BINARY(4)', 'bytes', true],
  ['vb', 'VARBINARY(10)', 'bytes', true],
  ['uid', 'UUID', 'uuid', true],
  ['at', 'TIMESTAMP(6) NULL', 'timestamp', true],
  ['utc', "DATETIME(6) COMMENT 'UTC'", 'timestamp', true],
  ['local', 'DATETIME(6)', 'localtimestamp', true],
  ['dt0', 'DATETIME', 'localtimestamp', true],
  ['day', 'DATE', 'date', true],
  ['clock', 'TIME(6)', 'time', true],
  ['clock0', 'TIME', 'time', true],
  ['mood', "ENUM('sad','happy','ünï 😀')", 'enum', true],
  ['tags', "SET('a','b','c d','é','😀')", 'array', true],
  ['geo', 'GEOMETRY', 'text', true],
  ['f4', 'FLOAT', 'float', false],
  ['f8', 'DOUBLE', 'float', false],
  ['doc', 'JSON', 'json', false],
  ['quoted', `SET('x"y','z')`, 'array', false],
]

// Row 3 is all NULL; the others hold the edges of each type, empty strings, trailing spaces, 4-byte characters.
const ROWS: string[] = [
  `1, 1, b'1', -128, 65535, -8388608, -9223372036854775808, 18446744073709551615, 42, b'101010101010', b'1111111111111111111111111111111111111111111111111111111111111111', 2026,
   1.500000, 10, 1.50, 99999999999999999999999999999999999.999999999999999999999999999999, 'a', 'x', 'A', 'ab', 'café', 't', x'00ff00', x'00000000', x'00',
   'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', '2026-01-01 10:00:00.123456', '2026-01-01 10:00:00.123450', '2026-03-29 02:30:00.000001', '2026-01-01 10:00:00', '2026-01-01',
   '10:00:00.5', '24:00:00', 'sad', 'a,c d', ST_GeomFromText('POINT(1 2)'), 0.1, 0.1, '{"b": 1, "a": [1, 2]}', 'x"y'`,
  `2, 0, b'0', 127, 0, 8388607, 9223372036854775807, 0, 0, b'0', b'0', 1901,
   -0.000001, -0, 0.00, -0.5, 'a ', 'x  ', 'a ', '  ab', '', '😀 é', x'', x'61', x'0000000000',
   NULL, '1970-01-02 00:00:00', '0001-01-01 00:00:00', '9999-12-31 23:59:59.999999', '1000-01-01 00:00:00', '0001-01-01',
   '00:00:00', '00:00:00', 'happy', '', ST_GeomFromText('LINESTRING(0 0,1 1)'), -0.0, -0.0, '"text"', ''`,
  `3, ${Array(COLUMNS.length - 1).fill('NULL').join(', ')}`,
  `4, -5, b'1', 0, 1, 0, 0, 9007199254740993, 999999, b'111111111111', b'1', 2155,
   10.000000, 12345, 999999.99, 0.000000000000000000000000000001, 'tab\\there\\nline', 'é', 'É', 'é', 'ÿ€', '中',
   x'deadbeef', x'ffffffff', x'ff', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '2038-01-18 00:00:00.999999', '2026-01-01 10:00:00', '2026-01-01 10:00:00.100000',
   '2026-01-01 00:00:00', '9999-12-31', '23:59:59.999999', '12:34:56', 'ünï 😀', 'a,b,c d,é,😀', NULL, 3.4e38, 1.7976931348623157e308, '[1.0, 2.50, 1e2]', 'z'`,
  `5, 0, b'0', -1, 7, -1, -1, 1, 7, b'1', b'0', 0,
   -12.340000, -7, 0.50, -1.000000000000000000000000000000, '~', '1:a', '5:x|', 'x|', 'NULL', ' ',
   x'7c', x'7e000000', x'7e', '00000000-0000-0000-0000-000000000000', '2000-02-29 23:59:59.000001', '2000-02-29 23:59:59', '2000-02-29 00:00:00.5',
   '2000-02-29 23:59:59', '2000-02-29', '00:00:00.000001', '07:08:09', 'sad', 'é', ST_GeomFromText('POINT(-1.5 0)'), -1.5, 5e-324, 'null', 'x"y,z'`,
]

const field = ([name, , type]: (typeof COLUMNS)[number]): ChecksumField => ({ name, type })

describe.skipIf(!(await hasMysql()))('MariaDB range checksums', () => {
  let database: Awaited<ReturnType<typeof createMysqlDatabase>>
  let connector: Connector
  const sql = <T = Record<string, unknown>,>(text: string) => mysqlQuery<T>(database.url, text)
  const scan = (entity: string, opts: ScanOptions) => connector.scan(entity, opts)
  /** How often the connector fell back to the scan while `work` ran. */
  const fallbacks = async <T,>(work: () => Promise<T>): Promise<[T, number]> => {
    const mocks = [checksumByScan, hashesByScan].map((f) => vi.mocked(f))
    for (const m of mocks) m.mockClear()
    const result = await work()
    return [result, mocks.reduce((n, m) => n + m.mock.calls.length, 0)]
  }

  beforeEach(async () => {
    database = await createMysqlDatabase('syncline_mysum')
    connector = createMysqlConnector({ name: 'shop', url: database.url })
  })
  afterEach(async () => {
    await connector?.close()
    await database?.drop()
  })

  it('hashes every supported type in SQL exactly as the scan hashes the decoded row, and falls back for the others', async () => {
    await sql(`CREATE TABLE every_type (${COLUMNS.map(([n, t]) => `\`${n}\` ${t}`).join(', ')}, PRIMARY KEY (id))`)
    for (const values of ROWS) await sql(`INSERT INTO every_type VALUES (${values})`)
    const info = await connector.describe('every_type')
    expect(info.fields.map((f) => f.type)).toEqual(COLUMNS.map(([, , t]) => t))
    const base = { keys: ['id'], keyTypes: ['integer'] as CanonicalType[], range: {} }
    // The rows decode: the comparison below is over real values, not errors.
    expect((await scanAll(connector, 'every_type', { fields: COLUMNS.map(([n]) => n), keys: ['id'] })).rows).toHaveLength(ROWS.length)

    // Field by field, so a failure names the column and the row.
    const mismatches: string[] = []
    const wrongPath: string[] = []
    for (const column of COLUMNS) {
      const opts: RangeChecksumOptions = { ...base, fields: [field(column)] }
      const [pairs, fellBack] = await fallbacks(() => connector.rangeHashes!('every_type', opts))
      if ((fellBack === 0) !== column[3]) wrongPath.push(column[0])
      const expected = await actual.hashesByScan(scan, 'every_type', opts)
      expect(pairs.map((p) => p.key)).toEqual(expected.map((p) => p.key))
      for (const [i, pair] of pairs.entries()) if (pair.hash !== expected[i]!.hash) mismatches.push(`${column[0]}@${String(pair.key[0])}: ${pair.hash} != ${expected[i]!.hash}`)
      const [sum, sumFellBack] = await fallbacks(() => connector.rangeChecksum!('every_type', opts))
      if ((sumFellBack === 0) !== column[3]) wrongPath.push(`${column[0]} (sum)`)
      const expectedSum = await actual.checksumByScan(scan, 'every_type', opts)
      if (sum.count !== expectedSum.count || sum.sum !== expectedSum.sum) mismatches.push(`${column[0]} (sum)`)
    }
    expect(mismatches).toEqual([])
    expect(wrongPath).toEqual([])

    // Whole rows, in SQL: every supported field at once.
    const inSql: RangeChecksumOptions = { ...base, fields: COLUMNS.filter((c) => c[3]).map(field) }
    const [pairs, fellBack] = await fallbacks(() => connector.rangeHashes!('every_type', inSql))
    expect(fellBack).toBe(0)
    expect(pairs).toEqual(await actual.hashesByScan(scan, 'every_type', inSql))
    expect(new Set(pairs.map((p) => p.hash)).size).toBe(ROWS.length)
    expect(pairs.every((p) => /^[0-9a-f]{16}$/.test(p.hash))).toBe(true)
    expect(await connector.rangeChecksum!('every_type', inSql)).toEqual(await actual.checksumByScan(scan, 'every_type', inSql))
    // One float among them: the whole call goes to the scan, and still agrees.
    const withFloat: RangeChecksumOptions = { ...base, fields: [...inSql.fields, { name: 'f8', type: 'float' }] }
    const [floatSum, floatFellBack] = await fallbacks(() => connector.rangeChecksum!('every_type', withFloat))
    expect(floatFellBack).toBe(1)
    expect(floatSum).toEqual(await actual.checksumByScan(scan, 'every_type', withFloat))
  })

  it('tells apart what the row merge tells apart, and not what it finds equal', async () => {
    await sql(`CREATE TABLE pairs (id INT PRIMARY KEY, amount DECIMAL(12,4), name VARCHAR(10), at DATETIME(6), note TEXT)`)
    await sql(`INSERT INTO pairs VALUES
      (1, 1.5, 'a', '2026-01-01 10:00:00.123456', NULL),
      (2, 1.5000, 'a', '2026-01-01 10:00:00.123456', NULL),
      (3, 1.5, 'a ', '2026-01-01 10:00:00.123456', NULL),
      (4, 1.5, 'a', '2026-01-01 10:00:00.123457', NULL),
      (5, 1.5, 'a', '2026-01-01 10:00:00.123456', '')`)
    const fields: ChecksumField[] = [
      { name: 'amount', type: 'decimal' },
      { name: 'name', type: 'text' },
      { name: 'at', type: 'localtimestamp' },
      { name: 'note', type: 'text' },
    ]
    const hashes = (await connector.rangeHashes!('pairs', { keys: ['id'], keyTypes: ['integer'], fields, range: {} })).map((p) => p.hash)
    expect(hashes[1]).toBe(hashes[0])
    expect(new Set([hashes[0], hashes[2], hashes[3], hashes[4]]).size).toBe(4)
  })

  it('agrees with the scan inside bounds on a composite key, with filters and limits', async () => {
    // A case-insensitive key column: bounds must still compare by UTF-8 bytes ('B' < 'a' < 'c' < 'É').
    await sql(`CREATE TABLE ranged (k1 INT, k2 VARCHAR(10) COLLATE utf8mb4_unicode_ci, v DECIMAL(8,2), note VARCHAR(10), PRIMARY KEY (k1, k2))`)
    const seconds = ['a', 'B', 'c', 'É', '😀', 'zz', '_', 'ab']
    const values: string[] = []
    for (let k1 = 0; k1 < 5; k1++) for (const [i, k2] of seconds.entries()) values.push(`(${k1}, '${k2}', ${(k1 * 8 + i) % 7 === 0 ? 'NULL' : `${k1}.${i}0`}, ${i % 3 === 0 ? 'NULL' : `'n${i} '`})`)
    await sql(`INSERT INTO ranged VALUES ${values.join(', ')}`)
    const keys = ['k1', 'k2']
    const keyTypes: CanonicalType[] = ['integer', 'text']
    const all = (await scanAll(connector, 'ranged', { fields: [], keys })).rows.map((r) => [r.k1, r.k2] as KeyValues)
    expect(all.map((k) => k[1]).slice(0, seconds.length)).toEqual(['B', '_', 'a', 'ab', 'c', 'zz', 'É', '😀'])
    expect([...all].sort((a, b) => compareKeys(keyTypes, a, b))).toEqual(all)
    const fields: ChecksumField[] = [
      { name: 'v', type: 'decimal' },
      { name: 'note', type: 'text' },
    ]
    const ranges = [
      {},
      { after: [1, 'B'] },
      { through: [3, 'c'] },
      { after: [1, 'B'], through: [3, 'c'] },
      { after: [2, 'b'], through: [2, 'É'] },
      { after: [2, 'É'], through: [2, 'É'] },
      { after: [0, '😀'], through: [1, '_'] },
      { after: [4, '😀'] },
      { through: [-1, 'z'] },
    ]
    const filterSets = [
      undefined,
      [{ field: 'v', op: '>=' as const, value: '2.5' }],
      [{ field: 'k2', op: 'in' as const, value: ['a', 'B', '😀'] }],
      [{ field: 'note', op: 'is_null' as const }],
      [
        { field: 'note', op: 'like' as const, value: 'n%' },
        { field: 'k1', op: '!=' as const, value: 3 },
      ],
    ]
    let compared = 0
    for (const range of ranges) {
      for (const filters of filterSets) {
        const opts: RangeChecksumOptions = { keys, keyTypes, fields, range, ...(filters ? { filters } : {}) }
        const label = JSON.stringify({ range, filters })
        const [sum, fellBack] = await fallbacks(() => connector.rangeChecksum!('ranged', opts))
        expect(fellBack, label).toBe(0)
        const expected = await actual.checksumByScan(scan, 'ranged', opts)
        expect(sum, label).toEqual(expected)
        for (const limit of [undefined, 0, 1, 3]) {
          const limited = limit === undefined ? opts : { ...opts, limit }
          expect(await connector.rangeHashes!('ranged', limited), `${label} limit ${limit}`).toEqual(await actual.hashesByScan(scan, 'ranged', limited))
        }
        for (const parts of [2, 3, 7]) {
          const split = { keys, keyTypes, range, parts, rows: expected.count, ...(filters ? { filters } : {}) }
          // Cut over the key scan (cheaper than a window function, see connector.ts): the same keys as ever.
          expect(await connector.rangeSplit!('ranged', split), `${label} parts ${parts}`).toEqual(await actual.splitByScan(scan, 'ranged', split))
        }
        compared += expected.count
      }
    }
    expect(compared).toBeGreaterThan(100)
  })

  it('goes to the scan for a row whose hash input is longer than max_allowed_packet', async () => {
    const packet = (await sql<{ packet: number | string }>('SELECT @@max_allowed_packet AS packet'))[0]!.packet
    // Its hex is longer than a packet, the value itself is not.
    const size = Math.floor(Number(packet) / 2) + 1024
    expect(size).toBeLessThan(Number(packet) - 1024)
    await sql('CREATE TABLE big (id INT PRIMARY KEY, body LONGBLOB)')
    await sql(`INSERT INTO big VALUES (1, REPEAT(x'07', ${size})), (2, 'small')`)
    const opts: RangeChecksumOptions = { keys: ['id'], keyTypes: ['integer'], fields: [{ name: 'body', type: 'bytes' }], range: {} }
    const [sum, fellBack] = await fallbacks(() => connector.rangeChecksum!('big', opts))
    expect(fellBack).toBe(1)
    expect(sum).toEqual(await actual.checksumByScan(scan, 'big', opts))
    const [pairs, hashesFellBack] = await fallbacks(() => connector.rangeHashes!('big', opts))
    expect(hashesFellBack).toBe(1)
    expect(pairs).toEqual(await actual.hashesByScan(scan, 'big', opts))
    // The small row alone stays in SQL.
    const [, smallFellBack] = await fallbacks(() => connector.rangeChecksum!('big', { ...opts, range: { after: [1] } }))
    expect(smallFellBack).toBe(0)
  })

  it('hashes a zero date or a 30-hour TIME apart from every value, and the lookup that follows reports it', async () => {
    await sql('CREATE TABLE odd (id INT PRIMARY KEY, at DATETIME(6), clock TIME)')
    await sql(`SET STATEMENT sql_mode = '' FOR INSERT INTO odd VALUES (1, '0000-00-00 00:00:00', '10:00:00'), (2, '2026-01-01 00:00:00', '30:00:00'), (3, '2026-01-01 00:00:00', '10:00:00')`)
    const opts: RangeChecksumOptions = {
      keys: ['id'],
      keyTypes: ['integer'],
      fields: [
        { name: 'at', type: 'localtimestamp' },
        { name: 'clock', type: 'time' },
      ],
      range: {},
    }
    const [pairs, fellBack] = await fallbacks(() => connector.rangeHashes!('odd', opts))
    expect(fellBack).toBe(0)
    expect(new Set(pairs.map((p) => p.hash)).size).toBe(3)
    expect((await rejection(actual.hashesByScan(scan, 'odd', opts))).code).toBe('VALUE_REJECTED')
    expect((await rejection(connector.lookup('odd', ['id'], [[1]], ['at', 'clock']))).code).toBe('VALUE_REJECTED')
    expect((await rejection(connector.lookup('odd', ['id'], [[2]], ['at', 'clock']))).code).toBe('VALUE_REJECTED')
  })

  it('computes md5 only', async () => {
    await sql('CREATE TABLE plain (id INT PRIMARY KEY)')
    const opts: RangeChecksumOptions = { keys: ['id'], keyTypes: ['integer'], fields: [{ name: 'id', type: 'integer' }], range: {}, hash: 'postgres-hashtext' }
    for (const call of [connector.rangeChecksum!('plain', opts), connector.rangeHashes!('plain', opts)]) {
      const error = await rejection(call)
      expect({ code: error.code, message: error.message }).toEqual({ code: 'INTERNAL', message: "Row hash 'postgres-hashtext' is not computed over scans; only md5 is." })
    }
  })
})
