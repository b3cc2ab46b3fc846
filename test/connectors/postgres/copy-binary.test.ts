/**
 * Counting the rows of a binary COPY stream as its bytes pass: the copied
 * count and progress of a PostgreSQL → PostgreSQL bulk copy come from here,
 * and the stream may split anywhere (inside a length, a value, the header).
 */
import pg from 'pg'
import copyStreams from 'pg-copy-streams'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CopyBinaryRowCounter } from '../../../src/connectors/postgres/copy-binary.js'
import { createPgDatabase } from '../../helpers/services.js'

let database: Awaited<ReturnType<typeof createPgDatabase>> | undefined

/** A real server's binary COPY of a query, as one buffer. */
async function binaryCopy(sql: string): Promise<Buffer> {
  const client = new pg.Client({ connectionString: database!.url })
  await client.connect()
  try {
    const chunks: Buffer[] = []
    for await (const chunk of client.query(copyStreams.to(`COPY (${sql}) TO STDOUT (FORMAT binary)`))) chunks.push(chunk as Buffer)
    return Buffer.concat(chunks)
  } finally {
    await client.end()
  }
}

function countInPieces(data: Buffer, pieceLength: (at: number) => number): number {
  const counter = new CopyBinaryRowCounter()
  for (let at = 0; at < data.length; ) {
    const end = Math.min(data.length, at + pieceLength(at))
    counter.add(data.subarray(at, end))
    at = end
  }
  return counter.rows
}

describe('binary COPY row counter', () => {
  beforeAll(async () => {
    database = await createPgDatabase('syncline_copy_binary')
  })
  afterAll(async () => {
    await database?.drop()
  })

  it('counts rows with NULLs, empty values and long values, however the stream is split', async () => {
    const data = await binaryCopy(
      `SELECT g AS id, CASE WHEN g % 3 = 0 THEN NULL ELSE repeat('é', g % 70) END AS label, CASE WHEN g % 5 = 0 THEN ''::bytea ELSE decode(repeat('ff', g), 'hex') END AS raw, g * 1.5 AS amount FROM generate_series(1, 300) g`,
    )
    expect(countInPieces(data, () => data.length)).toBe(300)
    for (const size of [1, 2, 3, 5, 7, 64]) expect(countInPieces(data, () => size), `pieces of ${size} bytes`).toBe(300)
    // Irregular pieces, the same on every run.
    expect(countInPieces(data, (at) => 1 + ((at * 7919) % 13))).toBe(300)
  })

  it('counts no rows in an empty result and rows without columns', async () => {
    const empty = await binaryCopy('SELECT 1 AS one WHERE false')
    for (const size of [1, 4, empty.length]) expect(countInPieces(empty, () => size)).toBe(0)
    const noColumns = await binaryCopy('SELECT FROM generate_series(1, 4)')
    for (const size of [1, 3, noColumns.length]) expect(countInPieces(noColumns, () => size)).toBe(4)
  })
})
