/**
 * The COPY relay (copy-relay.ts): a COPY TO's CopyData messages passed to a
 * COPY FROM STDIN as they came off the wire. However the socket cuts the
 * bytes, exactly the CopyData messages go on (never the CopyOutResponse, a
 * notice or a parameter change between them) and the COPY's end is handed
 * back; between two real databases the destination gets every row, and a
 * source that fails mid-COPY, or a cancelled run, leaves the destination
 * without a row and both connections usable.
 */
import pg from 'pg'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { CopyDataFrames, copyInFrames, copyOutFrames, type CopyFrames } from '../../../src/connectors/postgres/copy-relay.js'
import { createPgDatabase } from '../../helpers/services.js'
import { usePgFixture } from './fixture.js'

/** A backend message: type byte, length (counting itself), payload. */
function message(type: string, payload: Buffer | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload
  const head = Buffer.alloc(5)
  head.write(type, 0, 'latin1')
  head.writeInt32BE(body.length + 4, 1)
  return Buffer.concat([head, body])
}

describe('COPY relay framing', () => {
  // What a server sends for a COPY TO: CopyOutResponse, CopyData with a notice and a parameter change
  // among them (one CopyData empty, one long), CopyDone, then CommandComplete and ReadyForQuery.
  const data = [message('d', 'first row\n'), message('d', ''), message('d', 'x'.repeat(300) + '\n'), message('d', 'after the notice\n'), message('d', 'last\n')]
  const wire = Buffer.concat([
    message('H', Buffer.from([0, 0, 1, 0, 0])),
    data[0]!,
    data[1]!,
    data[2]!,
    message('N', 'SNOTICE\0Mhello\0\0'),
    data[3]!,
    message('S', 'TimeZone\0UTC\0'),
    data[4]!,
    message('c', ''),
    message('C', 'COPY 5\0'),
    message('Z', 'I'),
  ])
  const done = wire.indexOf(message('c', ''))

  it('passes on exactly the CopyData messages and hands back the end, wherever the chunks are cut', () => {
    for (const size of [1, 2, 3, 4, 5, 6, 7, 11, 64, wire.length]) {
      const frames = new CopyDataFrames()
      const passed: Buffer[] = []
      let last: CopyFrames | undefined
      let at = 0
      for (; at < wire.length && last?.rest === undefined; at += size) {
        last = frames.feed(wire.subarray(at, at + size))
        passed.push(...last.pieces)
        // What went on plus what a begun message still owes is always whole messages.
        const sent = Buffer.concat(passed).length + last.owed
        expect(data.some((_, i) => Buffer.concat(data.slice(0, i + 1)).length === sent) || sent === 0, `chunks of ${size}`).toBe(true)
      }
      expect(Buffer.concat(passed).toString('latin1'), `chunks of ${size}`).toBe(Buffer.concat(data).toString('latin1'))
      expect(last!.messages, `chunks of ${size}`).toBe(5)
      // The rest of the chunk that held CopyDone, then the chunks not fed, are node-postgres's to read.
      expect(Buffer.concat([last!.rest!, wire.subarray(at)])).toEqual(wire.subarray(done))
      expect(() => frames.feed(Buffer.from('d'))).toThrow(/after the end/)
    }
  })

  it('ends at an ErrorResponse the server sends mid-COPY', () => {
    const error = message('E', 'SERROR\0Mdivision by zero\0\0')
    const frames = new CopyDataFrames()
    const framed = frames.feed(Buffer.concat([data[0]!, error, message('Z', 'I')]))
    expect(Buffer.concat(framed.pieces)).toEqual(data[0])
    expect(framed.rest!.subarray(0, error.length)).toEqual(error)
  })
})

describe('COPY relay between two PostgreSQL databases', () => {
  const source = usePgFixture()
  let destination: Awaited<ReturnType<typeof createPgDatabase>> | undefined
  const clients: pg.Client[] = []
  beforeAll(async () => {
    destination = await createPgDatabase('syncline_pg_relay')
  })
  afterAll(async () => {
    await destination?.drop()
  })
  afterEach(async () => {
    for (const client of clients.splice(0)) await client.end().catch(() => undefined)
  })
  async function connect(url: string): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: url })
    client.on('error', () => undefined)
    await client.connect()
    clients.push(client)
    return client
  }
  async function freshTarget(): Promise<pg.Client> {
    const to = await connect(destination!.url)
    await to.query('DROP TABLE IF EXISTS target; CREATE TABLE target (id int PRIMARY KEY, label text, amount numeric(12,2), at timestamptz)')
    return to
  }
  const rows = (n: number) => `SELECT g AS id, repeat('é', g % 500) AS label, round(g / 7.0, 2)::numeric(12,2) AS amount, timestamptz '2026-01-01' + g * interval '1 second' AS at FROM generate_series(1, ${n}) g`

  for (const format of ['', ' (FORMAT binary)']) {
    it(`copies every row, in COPY${format || ' text'}, and leaves both connections usable`, async () => {
      const from = await connect(source.url())
      const to = await freshTarget()
      const seen: number[] = []
      const written = await copyInFrames(to, `COPY target FROM STDIN${format}`, copyOutFrames(from, `COPY (${rows(50000)}) TO STDOUT${format}`), { onMessages: (n) => seen.push(n) })
      expect(written).toBe(50000)
      expect(seen.length).toBeGreaterThan(1)
      expect(seen.at(-1)).toBe(format ? 50001 : 50000)
      const expected = (await from.query(`SELECT md5(string_agg(t::text, ',' ORDER BY t.id)) AS sum FROM (${rows(50000)}) t`)).rows[0].sum
      expect((await to.query(`SELECT md5(string_agg(t::text, ',' ORDER BY t.id)) AS sum FROM target t`)).rows[0].sum).toBe(expected)
      expect((await from.query('SELECT 1 AS n')).rows).toEqual([{ n: 1 }])
    })
  }

  it('cancels the COPY FROM when the source fails mid-COPY: no row lands, both connections stay usable', async () => {
    const from = await connect(source.url())
    const to = await freshTarget()
    const failing = `COPY (SELECT g, 'row ' || (1 / (40000 - g)), 1::numeric(12,2), now() FROM generate_series(1, 50000) g) TO STDOUT (FORMAT binary)`
    await expect(copyInFrames(to, 'COPY target FROM STDIN (FORMAT binary)', copyOutFrames(from, failing))).rejects.toThrow(/division by zero/)
    expect((await to.query('SELECT count(*)::int AS n FROM target')).rows).toEqual([{ n: 0 }])
    expect((await from.query('SELECT 1 AS n')).rows).toEqual([{ n: 1 }])
  })

  it('stops reading the source once the destination refuses a row', async () => {
    const from = await connect(source.url())
    const to = await freshTarget()
    await to.query('ALTER TABLE target ADD CHECK (id < 1000)')
    let sent = 0
    const copying = copyInFrames(to, 'COPY target FROM STDIN (FORMAT binary)', copyOutFrames(from, `COPY (${rows(200000)}) TO STDOUT (FORMAT binary)`), { onMessages: (n) => (sent = n) })
    await expect(copying).rejects.toThrow(/check constraint/)
    expect(sent).toBeLessThan(200000)
    expect((await to.query('SELECT count(*)::int AS n FROM target')).rows).toEqual([{ n: 0 }])
    expect((await to.query('SELECT 1 AS n')).rows).toEqual([{ n: 1 }])
  })

  it('stops on an abort, with a message cut in half on the wire: nothing written, the destination usable', async () => {
    const from = await connect(source.url())
    const to = await freshTarget()
    const abort = new AbortController()
    let halfway = false
    // Pieces that end inside a message, aborted after the first of them.
    async function* cutFrames(): AsyncGenerator<CopyFrames> {
      for await (const framed of copyOutFrames(from, `COPY (${rows(50000)}) TO STDOUT (FORMAT binary)`)) {
        yield framed
        if (framed.owed > 0 && !halfway) {
          halfway = true
          abort.abort(new Error('cancelled by the test'))
        }
      }
    }
    await expect(copyInFrames(to, 'COPY target FROM STDIN (FORMAT binary)', cutFrames(), { signal: abort.signal })).rejects.toThrow(/cancelled by the test/)
    expect(halfway).toBe(true)
    expect((await to.query('SELECT count(*)::int AS n FROM target')).rows).toEqual([{ n: 0 }])
  })
})
