/**
 * Binlog change feeds on MariaDB: values equal to what `scan` reads (exact
 * decimals, integers beyond 2^53, microseconds, JSON, ENUM members with
 * commas and quotes, emoji, bytes, NULLs), resuming in the middle of a
 * transaction without a change lost or repeated, huge transactions in
 * bounded batches, ALTER TABLE mid-stream, other tables' traffic as
 * position-only batches, lost positions, two consumers at once, a dropped
 * connection, and the readiness report.
 */
import mysql from 'mysql2/promise'
import { describe, expect, it } from 'vitest'
import type { ChangeBatch, ChangeFeed, SourceChange } from '../../../src/connectors/change-feed.js'
import type { Row } from '../../../src/values/canonical.js'
import { MYSQL_URL, hasMysql, mysqlQuery } from '../../helpers/services.js'
import { enumMembers } from '../../../src/connectors/mysql/binlog-values.js'
import { rowsLostBy } from '../../../src/connectors/mysql/binlog-statements.js'
import { parsePosition, replicationServerId } from '../../../src/connectors/mysql/binlog-position.js'
import { createMysqlConnector } from '../../../src/connectors/mysql/connector.js'
import { rejection, scanAll, useMysqlFixture } from './fixture.js'

/** Pull batches from a feed until `enough` says so (or fail after `ms`). */
async function collect(iterator: AsyncIterator<ChangeBatch>, enough: (changes: SourceChange[], batches: ChangeBatch[]) => boolean, ms = 10_000): Promise<{ changes: SourceChange[]; batches: ChangeBatch[] }> {
  const changes: SourceChange[] = []
  const batches: ChangeBatch[] = []
  const deadline = Date.now() + ms
  while (!enough(changes, batches)) {
    const left = deadline - Date.now()
    if (left <= 0) throw new Error(`timed out with ${changes.length} changes in ${batches.length} batches`)
    let timer: NodeJS.Timeout | undefined
    const result = await Promise.race([iterator.next(), new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), left)))])
    clearTimeout(timer)
    if (result === 'timeout') continue
    if (result.done) throw new Error('the feed ended')
    batches.push(result.value)
    changes.push(...result.value.changes)
  }
  return { changes, batches }
}

async function withFeed<T>(feed: ChangeFeed, work: (iterator: AsyncIterator<ChangeBatch>) => Promise<T>): Promise<T> {
  const iterator = feed.changes()[Symbol.asyncIterator]()
  try {
    return await work(iterator)
  } finally {
    await feed.close()
  }
}

const ALL_TYPES = `CREATE TABLE typed (
  id BIGINT PRIMARY KEY,
  amount DECIMAL(30,10), big BIGINT, ubig BIGINT UNSIGNED, small SMALLINT, flag TINYINT(1), ratio FLOAT, precise DOUBLE,
  at DATETIME(6), ts TIMESTAMP(6) NULL, day DATE, clock TIME(6),
  doc JSON, mood ENUM('a,b', 'it''s', 'plain'), tags SET('x', 'y;z', 'w'),
  name VARCHAR(50), fixed CHAR(5), body TEXT, latin VARCHAR(20) CHARACTER SET latin1,
  bits BIT(8), data BLOB, bin BINARY(4)
) CHARACTER SET utf8mb4`

const ROWS = [
  `(1, -12345678901234567890.0123456789, 9007199254740993, 18446744073709551615, -32768, 1, 0.1, 0.30000000000000004,
    '2026-11-21 10:00:00.123456', '2038-01-19 03:14:07.999999', '2026-02-28', '23:59:59.000001',
    '{"b": [1, 2.50, 12345678901234567890], "a": "é"}', 'a,b', 'y;z,w',
    'héllo 😀 wörld', 'ab', 'long 🀄 text', 'café', b'10100101', X'00FF10', X'0102')`,
  `(2, 0.0000000001, -9223372036854775808, 0, 7, 0, -3.4e38, 1e-300,
    '1000-01-01 00:00:00.000000', '1970-01-01 00:00:01.000001', '9999-12-31', '00:00:00', '[]', 'it''s', '', '', '', '', '', b'0', X'', X'00000000')`,
  `(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
]

describe.skipIf(!(await hasMysql()))('MySQL binlog change feed', () => {
  const my = useMysqlFixture()

  const feedOf = (entity: string, options: Partial<Parameters<NonNullable<ReturnType<typeof my.connector>['openChangeFeed']>>[1]> = {}) =>
    my.connector().openChangeFeed!(entity, { consumer: 'test_feed', ...options })

  it('delivers creates, updates and deletes with the values scan reads, exactly', async () => {
    await my.sql(ALL_TYPES)
    const feed = await feedOf('typed')
    const snapshot: Row[] = []
    for await (const rows of feed.snapshot({ fields: [], keys: ['id'], batchSize: 100 })) snapshot.push(...rows)
    expect(snapshot).toEqual([])
    await withFeed(feed, async (iterator) => {
      await my.sql(`INSERT INTO typed VALUES ${ROWS.join(', ')}`)
      const fields = [...(await my.connector().describe('typed')).fields.map((f) => f.name)]
      const scanned = (await scanAll(my.connector(), 'typed', { fields, keys: ['id'] })).rows
      const created = (await collect(iterator, (c) => c.length >= 3)).changes
      expect(created.map((c) => c.type)).toEqual(['create', 'create', 'create'])
      expect(created.map((c) => c.record)).toEqual(scanned)
      const first = created[0]!.record!
      expect(first.amount).toBe('-12345678901234567890.0123456789')
      expect(first.big).toBe(9007199254740993n)
      expect(first.ubig).toBe(18446744073709551615n)
      expect(first.at).toBe('2026-11-21T10:00:00.123456')
      expect(first.ts).toBe('2038-01-19T03:14:07.999999Z')
      expect(first.clock).toBe('23:59:59.000001')
      expect(first.mood).toBe('a,b')
      expect(first.tags).toBe('["y;z","w"]')
      expect(first.name).toBe('héllo 😀 wörld')
      expect(first.latin).toBe('café')
      expect(first.ratio).toBe(0.1)
      expect(first.doc).toBe(scanned[0]!.doc)
      expect(Buffer.from(first.data as Uint8Array).toString('hex')).toBe('00ff10')
      expect(created[1]!.record!.big).toBe(-9223372036854775808n)
      expect(created[1]!.record!.mood).toBe("it's")
      expect(Object.values(created[2]!.record!).filter((v) => v !== null)).toEqual([3])
      // One statement, one transaction: one id, in commit order, positions increasing.
      expect(new Set(created.map((c) => c.transaction)).size).toBe(1)
      expect(created[0]!.committedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000000Z$/)
      expect(created.map((c) => parsePosition(c.position, 'test').seen)).toEqual([1, 2, 3])

      await my.sql("UPDATE typed SET amount = amount + 1, name = 'changed 😁' WHERE id = 1")
      await my.sql('UPDATE typed SET id = 10 WHERE id = 2')
      await my.sql('DELETE FROM typed WHERE id = 3')
      const after = (await scanAll(my.connector(), 'typed', { fields, keys: ['id'] })).rows
      const later = (await collect(iterator, (c) => c.length >= 3)).changes
      expect(later.map((c) => [c.type, c.key])).toEqual([
        ['update', [1]],
        ['update', [10]],
        ['delete', [3]],
      ])
      expect(later[0]!.record).toEqual(after[0])
      expect(later[0]!.record!.amount).toBe('-12345678901234567889.0123456789')
      expect(later[0]!.before).toEqual(scanned[0])
      expect(later[1]!.previousKey).toEqual([2])
      expect(later[1]!.record).toEqual(after[1])
      expect(later[2]!.record).toBeUndefined()
      expect(later[2]!.before).toEqual(scanned[2])
    })
  })

  it('every fraction precision, YEAR, BIT(64) and small unsigned integers read as scan reads them', async () => {
    await my.sql(`CREATE TABLE precise (id INT PRIMARY KEY, d0 DATETIME, d3 DATETIME(3), t1 TIMESTAMP(1) NULL, t5 TIMESTAMP(5) NULL, c3 TIME(3), c0 TIME,
      y YEAR, b64 BIT(64), u8 TINYINT UNSIGNED, m24 MEDIUMINT, u32 INT UNSIGNED)`)
    const feed = await feedOf('precise')
    await withFeed(feed, async (iterator) => {
      await my.sql(`INSERT INTO precise VALUES
        (1, '2026-01-02 03:04:05', '2026-01-02 03:04:05.123', '2026-01-02 03:04:05.9', '2026-01-02 03:04:05.12345', '12:34:56.789', '23:59:59', 2026, b'1111111111111111111111111111111111111111111111111111111111111111', 255, -8388608, 4294967295),
        (2, '2026-01-02 03:04:05', '2026-01-02 03:04:05.001', '2026-01-02 03:04:05.0', '2026-01-02 03:04:05.00001', '00:00:00.001', '00:00:00', 0, b'0', 0, 8388607, 0)`)
      const fields = (await my.connector().describe('precise')).fields.map((f) => f.name)
      const scanned = (await scanAll(my.connector(), 'precise', { fields, keys: ['id'] })).rows
      const { changes } = await collect(iterator, (c) => c.length >= 2)
      const records = changes.map((c) => c.record!)
      expect(records).toEqual(scanned)
      expect(records[0]).toMatchObject({ d3: '2026-01-02T03:04:05.123000', t5: '2026-01-02T03:04:05.123450Z', y: 2026, b64: 18446744073709551615n })
      expect(records[1]).toMatchObject({ y: 0, d3: '2026-01-02T03:04:05.001000' })
    })
  })

  it('spatial columns arrive as the WKT scan reads; a geometry it cannot name exactly is a record error', async () => {
    await my.sql('CREATE TABLE places (id INT PRIMARY KEY, p POINT, l LINESTRING, a POLYGON, g GEOMETRY, m MULTIPOINT)')
    const feed = await feedOf('places')
    await withFeed(feed, async (iterator) => {
      await my.sql("INSERT INTO places VALUES (1, POINT(1.5, -2), ST_GeomFromText('LINESTRING(0 0,10 20.25,3 4)'), ST_GeomFromText('POLYGON((0 0,4 0,4 4,0 0),(1 1,2 1,2 2,1 1))'), POINT(7, 8), NULL)")
      const scanned = (await scanAll(my.connector(), 'places', { fields: ['p', 'l', 'a', 'g', 'm'], keys: ['id'] })).rows
      const { changes } = await collect(iterator, (c) => c.length >= 1)
      expect(changes[0]!.record).toEqual(scanned[0])
      expect(changes[0]!.record!.l).toBe('LINESTRING(0 0,10 20.25,3 4)')
      await my.sql("INSERT INTO places (id, m) VALUES (2, ST_GeomFromText('MULTIPOINT(1 1,2 2)'))")
      const error = await rejection(collect(iterator, () => false))
      expect(error).toMatchObject({ code: 'VALUE_REJECTED', failure: 'data' })
      expect(error.message).toContain('field m (multipoint)')
    })
  })

  it('reads the snapshot as of its start, and streams what committed after it', async () => {
    await my.sql('CREATE TABLE snap (id INT PRIMARY KEY, v VARCHAR(10))')
    await my.sql("INSERT INTO snap VALUES (1, 'a'), (2, 'b'), (3, 'c')")
    const feed = await feedOf('snap')
    // Committed after the feed opened, before the snapshot is read: only in the stream.
    await my.sql("UPDATE snap SET v = 'B' WHERE id = 2")
    await my.sql("INSERT INTO snap VALUES (4, 'd')")
    const snapshot: Row[] = []
    for await (const rows of feed.snapshot({ fields: ['v'], keys: ['id'], batchSize: 2 })) snapshot.push(...rows)
    expect(snapshot).toEqual([
      { id: 1, v: 'a' },
      { id: 2, v: 'b' },
      { id: 3, v: 'c' },
    ])
    await withFeed(feed, async (iterator) => {
      const { changes } = await collect(iterator, (c) => c.length >= 2)
      expect(changes.map((c) => [c.type, c.record])).toEqual([
        ['update', { id: 2, v: 'B' }],
        ['create', { id: 4, v: 'd' }],
      ])
    })
  })

  it('opened while another connection commits, snapshot and stream hold every row exactly once', async () => {
    await my.sql('CREATE TABLE racing (id INT PRIMARY KEY)')
    const writer = await mysql.createConnection(MYSQL_URL.replace(/\/[^/]*$/, `/${my.name()}`))
    let written = 0
    let writing = true
    const writes = (async () => {
      while (writing || written < 50) await writer.query('INSERT INTO racing VALUES (?)', [++written])
    })()
    try {
      while (written < 20) await new Promise((resolve) => setTimeout(resolve, 5))
      const feed = await feedOf('racing')
      writing = false
      await writes
      const snapshot: Row[] = []
      for await (const rows of feed.snapshot({ fields: [], keys: ['id'], batchSize: 100 })) snapshot.push(...rows)
      await withFeed(feed, async (iterator) => {
        const inSnapshot = snapshot.map((r) => Number(r.id))
        const { changes } = await collect(iterator, (c) => inSnapshot.length + c.length >= written)
        const streamed = changes.map((c) => Number(c.key[0]))
        expect(inSnapshot.length).toBeGreaterThan(0)
        expect([...inSnapshot, ...streamed]).toEqual(Array.from({ length: written }, (_, i) => i + 1))
      })
    } finally {
      writing = false
      await writes.catch(() => undefined)
      await writer.end()
    }
  })

  it('streams a huge transaction in bounded batches and resumes mid-transaction without loss or repeats', async () => {
    await my.sql('CREATE TABLE bulk (id INT PRIMARY KEY, v VARCHAR(20))')
    const feed = await feedOf('bulk', { maxBatchSize: 100 })
    const values = Array.from({ length: 2500 }, (_, i) => `(${i + 1}, 'row ${i + 1}')`).join(', ')
    let resumeAt = ''
    await withFeed(feed, async (iterator) => {
      await my.sql(`INSERT INTO bulk VALUES ${values}`)
      const { changes, batches } = await collect(iterator, (c) => c.length >= 750)
      expect(Math.max(...batches.map((b) => b.changes.length))).toBeLessThanOrEqual(100)
      expect(changes.map((c) => c.key[0])).toEqual(Array.from({ length: changes.length }, (_, i) => i + 1))
      resumeAt = batches[batches.length - 1]!.position
      expect(parsePosition(resumeAt, 'test').seen).toBe(changes.length)
    })
    const seen = parsePosition(resumeAt, 'test').seen
    const resumed = await feedOf('bulk', { from: resumeAt, maxBatchSize: 1000 })
    await withFeed(resumed, async (iterator) => {
      const { changes, batches } = await collect(iterator, (c) => c.length >= 2500 - seen)
      expect(changes.map((c) => c.key[0])).toEqual(Array.from({ length: 2500 - seen }, (_, i) => seen + i + 1))
      expect(Math.max(...batches.map((b) => b.changes.length))).toBeLessThanOrEqual(1000)
      // After the commit the position is a boundary: nothing of it is left to skip.
      expect(parsePosition(batches[batches.length - 1]!.position, 'test').seen).toBe(0)
    })
  })

  it('keeps streaming across ALTER TABLE ADD COLUMN, with the new column in later changes', async () => {
    await my.sql('CREATE TABLE grow (id INT PRIMARY KEY, v VARCHAR(10))')
    const feed = await feedOf('grow')
    await withFeed(feed, async (iterator) => {
      await my.sql("INSERT INTO grow VALUES (1, 'a')")
      await collect(iterator, (c) => c.length >= 1)
      await my.sql('ALTER TABLE grow ADD COLUMN price DECIMAL(12,4) NULL, ADD COLUMN note VARCHAR(20) NOT NULL DEFAULT "n/a"')
      await my.sql("INSERT INTO grow VALUES (2, 'b', 12.5, '😀')")
      await my.sql("UPDATE grow SET v = 'A' WHERE id = 1")
      const { changes } = await collect(iterator, (c) => c.length >= 2)
      expect(changes.map((c) => c.record)).toEqual([
        { id: 2, v: 'b', price: '12.5000', note: '😀' },
        { id: 1, v: 'A', price: null, note: 'n/a' },
      ])
      expect(changes[1]!.before).toEqual({ id: 1, v: 'a', price: null, note: 'n/a' })
    })
  })

  it('replays across an ADD COLUMN from an older position; a dropped column makes an old position SCHEMA_DRIFT', async () => {
    await my.sql('CREATE TABLE shape (id INT PRIMARY KEY, v VARCHAR(10), gone INT)')
    const feed = await feedOf('shape')
    const start = feed.start
    await withFeed(feed, async (iterator) => {
      await my.sql("INSERT INTO shape VALUES (1, 'a', 5)")
      await my.sql('ALTER TABLE shape ADD COLUMN extra INT NOT NULL DEFAULT 9')
      await my.sql("INSERT INTO shape VALUES (2, 'b', 6, 7)")
      await collect(iterator, (c) => c.length >= 2)
    })
    const replay = await feedOf('shape', { from: start })
    await withFeed(replay, async (iterator) => {
      const { changes } = await collect(iterator, (c) => c.length >= 2)
      // Written before the ALTER: the columns of its time.
      expect(changes.map((c) => c.record)).toEqual([
        { id: 1, v: 'a', gone: 5 },
        { id: 2, v: 'b', gone: 6, extra: 7 },
      ])
    })
    await my.sql('ALTER TABLE shape DROP COLUMN gone')
    const stale = await feedOf('shape', { from: start })
    await withFeed(stale, async (iterator) => {
      const error = await rejection(collect(iterator, () => false))
      expect(error.code).toBe('SCHEMA_DRIFT')
      expect(error.message).toMatch(/without a position/)
    })
  })

  it('TRUNCATE TABLE on the watched table ends the feed with POSITION_LOST (the binlog has no row deletes for it)', async () => {
    await my.sql('CREATE TABLE wiped (id INT PRIMARY KEY)')
    await my.sql('CREATE TABLE bystander (id INT PRIMARY KEY)')
    const feed = await feedOf('wiped')
    await withFeed(feed, async (iterator) => {
      await my.sql('INSERT INTO wiped VALUES (1)')
      await my.sql('TRUNCATE TABLE bystander')
      await my.sql('INSERT INTO wiped VALUES (2)')
      expect((await collect(iterator, (c) => c.length >= 2)).changes.map((c) => c.key)).toEqual([[1], [2]])
      await my.sql('TRUNCATE TABLE wiped')
      const error = await rejection(collect(iterator, () => false))
      expect(error.code).toBe('POSITION_LOST')
      expect(error.message).toContain('TRUNCATE TABLE')
    })
  })

  it('follows the binlog into its next file, and resumes from a position in the previous one', async () => {
    await my.sql('CREATE TABLE rotating (id INT PRIMARY KEY)')
    const feed = await feedOf('rotating')
    let first = ''
    await withFeed(feed, async (iterator) => {
      await my.sql('INSERT INTO rotating VALUES (1)')
      first = (await collect(iterator, (c) => c.length >= 1)).changes[0]!.position
      // Rotation only (a new file); never PURGE a shared server's logs.
      await mysqlQuery(MYSQL_URL, 'FLUSH BINARY LOGS')
      await my.sql('INSERT INTO rotating VALUES (2)')
      const { changes } = await collect(iterator, (c) => c.length >= 1)
      expect(changes.map((c) => c.key)).toEqual([[2]])
      expect(parsePosition(changes[0]!.position, 'test').file > parsePosition(first, 'test').file).toBe(true)
    })
    const resumed = await feedOf('rotating', { from: first })
    await withFeed(resumed, async (iterator) => {
      expect((await collect(iterator, (c) => c.length >= 1)).changes.map((c) => c.key)).toEqual([[2]])
    })
  })

  it("moves the position with empty batches while only other tables change, and never shows their rows", async () => {
    await my.sql('CREATE TABLE watched (id INT PRIMARY KEY)')
    await my.sql('CREATE TABLE busy (id INT PRIMARY KEY)')
    const feed = await feedOf('watched')
    await withFeed(feed, async (iterator) => {
      await my.sql('INSERT INTO busy VALUES (1), (2)')
      await my.sql('INSERT INTO busy VALUES (3)')
      const { batches } = await collect(iterator, (_c, b) => b.length >= 1)
      expect(batches[0]!.changes).toEqual([])
      const moved = parsePosition(batches[0]!.position, 'test')
      const start = parsePosition(feed.start, 'test')
      expect(moved.file > start.file || moved.offset > start.offset).toBe(true)
      // A burst of other tables' commits: a few position-only batches, not one per commit.
      const burstStart = Date.now()
      for (let id = 10; id < 50; id++) await my.sql('INSERT INTO busy VALUES (?)', [id])
      const [end] = await mysqlQuery<{ File: string; Position: number }>(MYSQL_URL, 'SHOW MASTER STATUS')
      const burst = await collect(iterator, (_c, b) => b.some((x) => { const p = parsePosition(x.position, 'test'); return p.file > end!.File || (p.file === end!.File && p.offset >= Number(end!.Position)) }))
      expect(burst.changes).toEqual([])
      expect(burst.batches.length).toBeLessThanOrEqual(Math.ceil((Date.now() - burstStart) / 1000) + 1)
      await my.sql('INSERT INTO watched VALUES (7)')
      const { changes } = await collect(iterator, (c) => c.length >= 1)
      expect(changes.map((c) => c.record)).toEqual([{ id: 7 }])
    })
  })

  it('refuses a position in a binlog file the server does not have with POSITION_LOST and the fix', async () => {
    await my.sql('CREATE TABLE lost (id INT PRIMARY KEY)')
    const error = await rejection(feedOf('lost', { from: 'mysql-bin.999999:4' }))
    expect(error.code).toBe('POSITION_LOST')
    expect(error.message).toContain('mysql-bin.999999 is gone')
    expect(error.message).toMatch(/without a position/)
    const garbage = await rejection(feedOf('lost', { from: 'lsn/0/16B3748' }))
    expect(garbage.code).toBe('POSITION_LOST')
  })

  it('runs two consumers at once without either being kicked off', async () => {
    await my.sql('CREATE TABLE shared (id INT PRIMARY KEY)')
    const a = await feedOf('shared', { consumer: 'consumer_a' })
    const b = await feedOf('shared', { consumer: 'consumer_b' })
    await withFeed(a, (ia) =>
      withFeed(b, async (ib) => {
        for (let round = 1; round <= 3; round++) {
          await my.sql(`INSERT INTO shared VALUES (${round})`)
          const [got_a, got_b] = await Promise.all([collect(ia, (c) => c.length >= 1), collect(ib, (c) => c.length >= 1)])
          expect(got_a.changes.map((c) => c.key)).toEqual([[round]])
          expect(got_b.changes.map((c) => c.key)).toEqual([[round]])
          // Give the server time to drop a duplicate replica if it were going to.
          await new Promise((resolve) => setTimeout(resolve, 200))
        }
      }),
    )
    // The same consumer twice in one process still gets two ids, neither 1 nor the server's.
    const ids = new Set([replicationServerId('x', 1), replicationServerId('x', 1)])
    expect(ids.size).toBe(2)
    expect(ids.has(1)).toBe(false)
  })

  it('ends with a transient CONNECTION_LOST when the server drops the binlog connection', async () => {
    await my.sql('CREATE TABLE dropped (id INT PRIMARY KEY)')
    const dumps = async () => new Set((await mysqlQuery<{ id: number }>(MYSQL_URL, "SELECT ID AS id FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'")).map((r) => Number(r.id)))
    const before = await dumps()
    const feed = await feedOf('dropped')
    await withFeed(feed, async (iterator) => {
      await my.sql('INSERT INTO dropped VALUES (1)')
      await collect(iterator, (c) => c.length >= 1)
      const ours = [...(await dumps())].filter((id) => !before.has(id))
      expect(ours).toHaveLength(1)
      await mysqlQuery(MYSQL_URL, `KILL ${ours[0]}`)
      const error = await rejection(collect(iterator, () => false))
      expect(error).toMatchObject({ code: 'CONNECTION_LOST', failure: 'transient' })
    })
  })

  it('check reports binlog readiness, and the grants a user lacks with the GRANT to run', async () => {
    const report = await my.connector().check()
    expect(report.capabilities.cdc).toBe(true)
    expect(report.cdc).toEqual({ ready: true })
    const user = `syncline_nocdc_${process.pid}`
    await mysqlQuery(MYSQL_URL, `CREATE USER IF NOT EXISTS '${user}'@'%'`)
    const limited = createMysqlConnector({ name: 'limited', url: my.url().replace('//root@', `//${user}@`) })
    try {
      await mysqlQuery(MYSQL_URL, `GRANT INSERT ON \`${my.name()}\`.* TO '${user}'@'%'`)
      const poor = await limited.check()
      expect(poor.cdc.ready).toBe(false)
      expect(poor.cdc.reason).toContain('REPLICATION SLAVE and REPLICATION CLIENT: run GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.*')
      expect(poor.cdc.reason).toContain(`lacks SELECT on database ${my.name()}`)
      await my.sql('CREATE TABLE guarded (id INT PRIMARY KEY)')
      await mysqlQuery(MYSQL_URL, `GRANT SELECT ON \`${my.name()}\`.* TO '${user}'@'%'`)
      const refused = await rejection(limited.openChangeFeed!('guarded', { consumer: 'limited' }))
      expect(refused.code).toBe('CDC_NOT_READY')
      expect(refused.message).toContain('GRANT REPLICATION SLAVE')
    } finally {
      await limited.close()
      await mysqlQuery(MYSQL_URL, `DROP USER IF EXISTS '${user}'@'%'`)
    }
    expect(await my.connector().listChangeFeeds!()).toEqual([])
    await my.connector().dropChangeFeed!('never_existed')
  })

  it('tells which logged statements remove the watched rows without row events', () => {
    const lost = (sql: string, schema = 'shop') => rowsLostBy(sql, schema, 'shop', 'orders')
    expect(lost('TRUNCATE TABLE orders')).toBe('TRUNCATE TABLE')
    expect(lost('truncate `shop`.`orders`', 'other')).toBe('TRUNCATE TABLE')
    expect(lost('TRUNCATE TABLE orders', 'other')).toBeUndefined()
    expect(lost('TRUNCATE TABLE orders_archive')).toBeUndefined()
    expect(lost('DROP TABLE IF EXISTS `a`, `orders` /* generated by server */')).toBe('DROP TABLE')
    expect(lost('DROP INDEX ix ON orders')).toBeUndefined()
    expect(lost('RENAME TABLE orders TO orders_old, x TO orders')).toBe('RENAME TABLE')
    expect(lost('RENAME TABLE x TO orders')).toBeUndefined()
    expect(lost('DROP DATABASE `shop`')).toBe('DROP DATABASE')
    expect(lost('ALTER TABLE orders ADD COLUMN x INT')).toBeUndefined()
  })

  it('parses ENUM and SET member lists the way the server defines them', () => {
    expect(enumMembers("enum('a,b','it''s','x\\\\y')")).toEqual(['a,b', "it's", 'x\\y'])
    expect(enumMembers("set('')")).toEqual([''])
    expect(enumMembers('varchar(10)')).toBeUndefined()
  })
})

