/**
 * Streamed (key, hash) pairs (`streamHashes`, issue 11) must be the pairs of
 * `rangeHashes` — same keys, decoded alike, in the same order, with the
 * same hash folded to a number — whether they come packed in one bytea a
 * page (integer, text and uuid keys), in one COPY (the same keys over a
 * whole range) or as plain rows (other keys), across page boundaries,
 * inside range bounds and filters; and the per-column
 * hash two PostgreSQL databases use must not depend on a column's width,
 * scale or time zone type.
 */
import { describe, expect, it } from 'vitest'
import { batchKey, type ChecksumField, type Filter, type KeyHash, type KeyRange } from '../../../src/connectors/connector.js'
import { HASHTEXT } from '../../../src/connectors/postgres/checksum.js'
import type { CanonicalType, KeyValues } from '../../../src/values/canonical.js'
import { foldHash } from '../../../src/values/row-checksum.js'
import { usePgFixture } from './fixture.js'

const FIELDS: ChecksumField[] = [
  { name: 'name', type: 'text' },
  { name: 'amount', type: 'decimal' },
  { name: 'at', type: 'timestamp' },
]

describe('PostgreSQL streamed key hashes', () => {
  const pg = usePgFixture()

  async function pairsOf(entity: string, keys: string[], keyTypes: CanonicalType[], range: KeyRange = {}, filters: Filter[] = []) {
    const opts = { keys, keyTypes, fields: FIELDS, hash: HASHTEXT, range, filters }
    const streamed: { key: KeyValues; hash: number }[] = []
    let batches = 0
    for await (const batch of pg.connector().streamHashes!(entity, opts)) {
      batches++
      for (let i = 0; i < batch.hashes.length; i++) streamed.push({ key: batchKey(batch, i, keys.length), hash: batch.hashes[i]! })
    }
    const listed = (await pg.connector().rangeHashes!(entity, opts)).map((p: KeyHash) => ({ key: p.key, hash: foldHash(BigInt(p.hash)) }))
    return { streamed, listed, batches }
  }

  it('gives the pairs of rangeHashes for integer, composite text, uuid and decimal keys, across batches, bounds and filters', async () => {
    await pg.sql(`CREATE TABLE wide (id bigint PRIMARY KEY, name text, amount numeric(12,2), at timestamptz)`)
    await pg.sql(`INSERT INTO wide SELECT g::int8 * 1000000000, 'n' || g, g / 7.0, '2026-01-01'::timestamptz + g * interval '1 microsecond' FROM generate_series(-12000, 12000) g`)
    const wide = await pairsOf('wide', ['id'], ['integer'])
    expect(wide.streamed.length).toBe(24001)
    expect(wide.batches).toBeGreaterThan(1)
    expect(wide.streamed).toEqual(wide.listed)
    // int8 beyond 2^53 reads as a bigint, as the codec reads it.
    await pg.sql(`INSERT INTO wide VALUES (9007199254740993, 'big', 1, NULL)`)
    const big = await pairsOf('wide', ['id'], ['integer'], { after: [12000 * 1000000000] })
    expect(big.streamed).toEqual([{ key: [9007199254740993n], hash: big.listed[0]!.hash }])
    // The whole table in one COPY: plain-number keys until the one past 2^53, which comes as a bigint all the same.
    const whole = await pairsOf('wide', ['id'], ['integer'])
    expect(whole.streamed.length).toBe(24002)
    expect(whole.streamed.at(-1)!.key).toEqual([9007199254740993n])
    expect(whole.streamed).toEqual(whole.listed)
    // A key below -2^53 first: every key of the stream then comes as a value.
    await pg.sql(`INSERT INTO wide VALUES (-9007199254740993, 'small', 1, NULL)`)
    const low = await pairsOf('wide', ['id'], ['integer'])
    expect(low.streamed[0]!.key).toEqual([-9007199254740993n])
    expect(low.streamed[1]!.key).toEqual([-12000 * 1000000000])
    expect(low.streamed).toEqual(low.listed)

    // Composite key with text parts holding quotes, a backslash, a non-ASCII letter and a trailing space.
    await pg.sql(`CREATE TABLE pairs (a int, b text COLLATE "C", name text, amount numeric, at timestamptz, PRIMARY KEY (a, b))`)
    await pg.sql(`INSERT INTO pairs SELECT g % 5, (ARRAY['x', 'it''s', 'back\\slash', 'é', 'x '])[1 + g % 5] || (g / 5), 'v', 1.5, NULL FROM generate_series(0, 499) g`)
    const range: KeyRange = { after: [1, "it's1"], through: [3, 'back\\slash3'] }
    const filters: Filter[] = [{ field: 'b', op: '!=', value: "it's6" }]
    const composite = await pairsOf('pairs', ['a', 'b'], ['integer', 'text'], range, filters)
    expect(composite.streamed.length).toBeGreaterThan(100)
    expect(composite.streamed).toEqual(composite.listed)

    await pg.sql(`CREATE TABLE uids (id uuid PRIMARY KEY, name text, amount numeric, at timestamptz)`)
    await pg.sql(`INSERT INTO uids SELECT md5(g::text)::uuid, 'u', g, NULL FROM generate_series(1, 300) g`)
    const uids = await pairsOf('uids', ['id'], ['uuid'])
    expect(uids.streamed).toEqual(uids.listed)

    // A decimal key is not packed: it pages as rows, with the same pairs.
    await pg.sql(`CREATE TABLE prices (id numeric PRIMARY KEY, name text, amount numeric, at timestamptz)`)
    await pg.sql(`INSERT INTO prices SELECT g / 4.0, 'p', g, NULL FROM generate_series(1, 25000) g`)
    const prices = await pairsOf('prices', ['id'], ['decimal'], { through: ['6000.50'] })
    expect(prices.streamed.length).toBe(24002)
    expect(prices.batches).toBeGreaterThan(1)
    expect(prices.streamed).toEqual(prices.listed)
  })

  it('streams a whole range in one COPY with the pairs of rangeHashes, across chunks, and stops it early without spoiling the connection', async () => {
    // Keys with quotes, a backslash, a non-ASCII letter and a trailing space, long enough that tuples straddle chunks.
    await pg.sql(`CREATE TABLE texts (a int, b text COLLATE "C", name text, amount numeric, at timestamptz, PRIMARY KEY (a, b))`)
    await pg.sql(`INSERT INTO texts SELECT g % 3, (ARRAY['x', 'it''s', 'back\\slash', 'é', 'x '])[1 + g % 5] || repeat('-', g % 37) || g, 'v', g, NULL FROM generate_series(0, 20000) g`)
    const whole = await pairsOf('texts', ['a', 'b'], ['integer', 'text'])
    expect(whole.streamed.length).toBe(20001)
    expect(whole.batches).toBeGreaterThan(1)
    expect(whole.streamed).toEqual(whole.listed)
    // The same range cut by a bound pages instead, with the same pairs.
    const bounded = await pairsOf('texts', ['a', 'b'], ['integer', 'text'], { after: [-1, ''] })
    expect(bounded.streamed).toEqual(whole.streamed)

    const opts = { keys: ['a', 'b'], keyTypes: ['integer', 'text'] as CanonicalType[], fields: FIELDS, hash: HASHTEXT, range: {} }
    for (let i = 0; i < 12; i++) {
      // More early stops than the pool has connections: each must give its connection back usable.
      for await (const batch of pg.connector().streamHashes!('texts', opts)) {
        expect(batch.hashes.length).toBeGreaterThan(0)
        break
      }
    }
    expect(await pg.connector().count('texts')).toBe(20001)
  })

  it('hashes equal values alike whatever the native type, and tells a trailing space, a microsecond and NULL against empty apart', async () => {
    await pg.sql(`CREATE TABLE narrow (id int4 PRIMARY KEY, name varchar(10), amount numeric(12,4), at timestamp)`)
    await pg.sql(`CREATE TABLE broad (id int8 PRIMARY KEY, name text, amount numeric, at timestamptz)`)
    await pg.sql(`INSERT INTO narrow VALUES (1, 'a', 1.5000, '2026-01-01 10:00:00.123456'), (2, '', 2, NULL)`)
    await pg.sql(`INSERT INTO broad VALUES (1, 'a', 1.5, '2026-01-01 10:00:00.123456+00'), (2, '', 2.00, NULL)`)
    const hashes = async (entity: string) => (await pairsOf(entity, ['id'], ['integer'])).streamed.map((p) => p.hash)
    expect(await hashes('broad')).toEqual(await hashes('narrow'))
    const before = await hashes('broad')
    for (const change of [`name = 'a '`, `at = at + interval '1 microsecond'`, `amount = 1.5001`]) {
      await pg.sql(`UPDATE broad SET ${change} WHERE id = 1`)
      expect((await hashes('broad'))[0]).not.toBe(before[0])
      await pg.sql(`UPDATE broad SET name = 'a', amount = 1.5, at = '2026-01-01 10:00:00.123456+00' WHERE id = 1`)
    }
    await pg.sql(`UPDATE broad SET name = NULL WHERE id = 2`)
    expect((await hashes('broad'))[1]).not.toBe(before[1])
  })
})
