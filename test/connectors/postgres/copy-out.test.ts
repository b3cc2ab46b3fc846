/**
 * The COPY TO reader that walks the socket's bytes in place (copy-out.ts)
 * and the tuple reader of the checksum stream (checksum-copy.ts): every
 * CopyData payload of a real COPY comes out once and in order, whatever the
 * chunking; an error the server raises mid-COPY, or a connection killed
 * mid-COPY, comes out as an error (never as a short stream), and a COPY
 * that ends or fails leaves its connection usable; tuples that a server
 * (or a proxy) cuts across messages read as whole ones.
 */
import pg from 'pg'
import { afterEach, describe, expect, it } from 'vitest'
import { batchKey } from '../../../src/connectors/connector.js'
import { HashTuples } from '../../../src/connectors/postgres/checksum-copy.js'
import { CopyMessages, copyOut, type CopyOutChunk } from '../../../src/connectors/postgres/copy-out.js'
import type { PgTable } from '../../../src/connectors/postgres/introspect.js'
import { packingOf } from '../../../src/connectors/postgres/key-packing.js'
import { usePgFixture } from './fixture.js'

/** The COPY data stream: the CopyData payloads of every chunk, joined. */
async function copyData(client: pg.ClientBase, sql: string): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const { bytes, spans } of copyOut(client, sql)) {
    for (let s = 0; s < spans.length; s += 2) parts.push(Buffer.from(bytes.subarray(spans[s], spans[s + 1])))
  }
  return Buffer.concat(parts)
}

/** The parts of a binary COPY data stream of (int8 key, int8 hash) tuples: header, tuples, trailer. */
function binaryCopyParts(pairs: Array<[bigint, bigint]>): { header: Buffer; tuples: Buffer[]; trailer: Buffer } {
  const header = Buffer.alloc(19)
  header.write('PGCOPY\n\xff\r\n\0', 'latin1')
  const tuples = pairs.map(([key, hash]) => {
    const tuple = Buffer.alloc(26)
    tuple.writeInt16BE(2, 0)
    tuple.writeInt32BE(8, 2)
    tuple.writeBigInt64BE(key, 6)
    tuple.writeInt32BE(8, 14)
    tuple.writeBigInt64BE(hash, 18)
    return tuple
  })
  const trailer = Buffer.alloc(2)
  trailer.writeInt16BE(-1, 0)
  return { header, tuples, trailer }
}

/** A binary COPY data stream of (int8 key, int8 hash) tuples, as PostgreSQL writes it. */
function binaryCopy(pairs: Array<[bigint, bigint]>): Buffer {
  const { header, tuples, trailer } = binaryCopyParts(pairs)
  return Buffer.concat([header, ...tuples, trailer])
}

/** The stream framed as PostgreSQL frames it: the header with the first tuple, then a message a tuple, then the trailer's. */
function rowMessages(pairs: Array<[bigint, bigint]>): Buffer {
  const { header, tuples, trailer } = binaryCopyParts(pairs)
  const payloads = [Buffer.concat([header, tuples[0]!]), ...tuples.slice(1), trailer]
  return Buffer.concat([...payloads.map((p) => messages(p, p.length).subarray(0, 5 + p.length)), Buffer.from([0x63, 0, 0, 0, 4])])
}

/** `data` as CopyData messages of `size` bytes each, then CopyDone. */
function messages(data: Buffer, size: number): Buffer {
  const out: Buffer[] = []
  for (let at = 0; at < data.length; at += size) {
    const payload = data.subarray(at, Math.min(data.length, at + size))
    const head = Buffer.alloc(5)
    head[0] = 0x64
    head.writeInt32BE(payload.length + 4, 1)
    out.push(head, payload)
  }
  out.push(Buffer.from([0x63, 0, 0, 0, 4]))
  return Buffer.concat(out)
}

const INT8_KEY = { info: { name: 'pairs' }, columns: new Map([['id', { field: { nullable: false }, baseType: 'int8' }]]) } as unknown as PgTable

/** The wire's tuples read as copiedHashes reads them: split chunk by chunk, taken `batchPairs` at a time. */
function readTuples(wire: Buffer, chunkSize: number, batchPairs: number) {
  const split = new CopyMessages()
  const tuples = new HashTuples([packingOf(INT8_KEY, 'id')!], 'pairs')
  const keys: unknown[][] = []
  const hashes: number[] = []
  let batches = 0
  let integerBatches = 0
  const take = () => {
    const batch = tuples.take()
    batches++
    if (batch.integers) integerBatches++
    for (let i = 0; i < batch.hashes.length; i++) {
      keys.push(batchKey(batch, i, 1))
      hashes.push(batch.hashes[i]!)
    }
  }
  let at = 0
  let rest: Buffer | undefined
  for (; at < wire.length && split.stoppedAt === undefined; at += chunkSize) {
    const chunks = split.split(wire.subarray(at, at + chunkSize))
    for (const chunk of chunks) {
      for (let s = 0; s < chunk.spans.length; ) {
        s = tuples.readSpans(chunk, s, batchPairs)
        if (tuples.size >= batchPairs) take()
      }
    }
    if (split.stoppedAt !== undefined) rest = chunks.at(-1)!.bytes.subarray(split.stoppedAt)
  }
  tuples.end()
  if (tuples.size > 0) take()
  return { keys, hashes, batches, integerBatches, handedBack: Buffer.concat([rest!, wire.subarray(at)]) }
}

describe('PostgreSQL COPY TO, read off the socket', () => {
  const fixture = usePgFixture()
  const clients: pg.Client[] = []
  afterEach(async () => {
    for (const client of clients.splice(0)) await client.end().catch(() => undefined)
  })
  async function connect(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: fixture.url() })
    client.on('error', () => undefined)
    await client.connect()
    clients.push(client)
    return client
  }

  it('gives the COPY data of a real COPY, byte for byte, and leaves the connection usable', async () => {
    const client = await connect()
    const sql = `COPY (SELECT g, repeat('x', g % 300), g * 1.5 FROM generate_series(1, 30000) g) TO STDOUT`
    const data = await copyData(client, sql)
    const expected = Array.from({ length: 30000 }, (_, i) => `${i + 1}\t${'x'.repeat((i + 1) % 300)}\t${((i + 1) * 1.5).toFixed(1)}\n`).join('')
    expect(data.toString()).toBe(expected)
    expect((await client.query('SELECT 41 + 1 AS n')).rows).toEqual([{ n: 42 }])
  })

  it('raises an error the server sends mid-COPY, after rows have come, and the connection stays usable', async () => {
    const client = await connect()
    const parts: number[] = []
    const reading = (async () => {
      for await (const { spans } of copyOut(client, `COPY (SELECT 1 / (20000 - g) FROM generate_series(1, 30000) g) TO STDOUT`)) parts.push(spans.length / 2)
    })()
    await expect(reading).rejects.toThrow(/division by zero/)
    expect(parts.reduce((a, b) => a + b, 0)).toBeGreaterThan(0)
    expect((await client.query('SELECT 1 AS n')).rows).toEqual([{ n: 1 }])
  })

  it('raises an error when the connection is killed mid-COPY instead of ending the stream short', async () => {
    const client = await connect()
    const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid
    const reading = (async () => {
      let chunks = 0
      for await (const chunk of copyOut(client, `COPY (SELECT g, pg_sleep(CASE WHEN g = 2000 THEN 5 ELSE 0 END) FROM generate_series(1, 4000) g) TO STDOUT`)) {
        if (chunks++ === 0) await fixture.sql('SELECT pg_terminate_backend($1)', [pid])
        expect(chunk.spans.length).toBeGreaterThan(0)
      }
    })()
    await expect(reading).rejects.toThrow(/terminat/i)
  })

  it('reads tuples cut across messages and messages cut across chunks alike', () => {
    const pairs: Array<[bigint, bigint]> = Array.from({ length: 500 }, (_, i) => [BigInt(i * 7 - 1000), BigInt.asIntN(64, BigInt(i) * 0x9e3779b97f4a7c15n)])
    // Messages shorter than a chunk (cut at every offset), longer than one (gathered over several chunks), and one a tuple (PostgreSQL's).
    const framings = [[11, 1], [11, 2], [11, 3], [11, 4], [11, 5], [11, 6], [11, 7], [11, 13], [11, 64], [11, 4096], [500, 7], [500, 64], [500, 4096], [26, 1], [26, 7], [26, 4096]] as const
    for (const [messageSize, chunkSize] of framings) {
      const framed = messageSize === 26 ? rowMessages(pairs) : messages(binaryCopy(pairs), messageSize)
      const read = readTuples(Buffer.concat([framed, Buffer.from('Z\0\0\0\x05I', 'latin1')]), chunkSize, 128)
      const label = `messages of ${messageSize}, chunks of ${chunkSize}`
      // What node-postgres is handed back: CopyDone and all that follows.
      expect(read.handedBack, label).toEqual(Buffer.from('c\0\0\0\x04Z\0\0\0\x05I', 'latin1'))
      expect(read.keys, label).toEqual(pairs.map(([key]) => [Number(key)]))
      // The hash folded as foldHash folds it: h >> 11.
      expect(read.hashes, label).toEqual(pairs.map(([, hash]) => Number(BigInt.asIntN(64, hash) >> 11n)))
      // Keys below 2^53 come as plain numbers in `integers`.
      expect(read.integerBatches, label).toBe(read.batches)
    }
  })

  it('reads keys past 2^53 exactly, as bigints, from there to the end of the stream', () => {
    const keys = [-5n, 3n, 2n ** 53n + 1n, 2n ** 60n, 2n ** 61n]
    const pairs = keys.map((key, i): [bigint, bigint] => [key, BigInt(i)])
    for (const chunkSize of [1, 26, 4096]) {
      // Two pairs a batch: the first batch plain numbers, the second turns to values at 2^53 + 1, the third stays values.
      const read = readTuples(rowMessages(pairs), chunkSize, 2)
      expect(read.keys).toEqual([[-5], [3], [2n ** 53n + 1n], [2n ** 60n], [2n ** 61n]])
      expect(read.hashes).toEqual([0, 0, 0, 0, 0])
      expect(read.batches).toBe(3)
      expect(read.integerBatches).toBe(1)
    }
  })

  it('refuses a stream that ends before its trailer', () => {
    const wire = messages(binaryCopy([[1n, 2n]]).subarray(0, 19 + 26), 4096)
    const split = new CopyMessages()
    const [chunk] = split.split(wire) as [CopyOutChunk]
    const tuples = new HashTuples([packingOf(INT8_KEY, 'id')!], 'pairs')
    tuples.read(chunk, chunk.spans[0]!, chunk.spans[1]!)
    expect(() => tuples.end()).toThrow(/ended before its trailer.*compare: rows/)
  })
})
