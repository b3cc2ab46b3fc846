/**
 * A first copy into a table the run created loads the rows before its
 * primary key (deferred-key.ts): the key is there afterwards as it was
 * created, a key the rows repeat rolls the whole load back (the table
 * empty, its key in place), and a table with other indexes, or one a
 * foreign key points at, keeps its key through the load.
 */
import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import type { BulkExport } from '../../../src/connectors/connector.js'
import type { FieldInfo } from '../../../src/values/canonical.js'
import { COPY_TEXT_FORMAT } from '../../../src/values/copy-text.js'
import { rejection, usePgFixture } from './fixture.js'

const FIELDS: FieldInfo[] = [
  { name: 'id', type: 'integer', nativeType: 'bigint', nullable: false, bits: 64 },
  { name: 'label', type: 'text', nativeType: 'text', nullable: true },
]

/** COPY text rows `id\tlabel` for the ids given. */
function copyText(ids: number[]): BulkExport {
  return {
    format: COPY_TEXT_FORMAT,
    fields: FIELDS,
    stream: Readable.from([Buffer.from(ids.map((id) => `${id}\trow ${id}\n`).join(''))]),
    close: async () => undefined,
  }
}

describe('PostgreSQL first copy into a table the run created', () => {
  const fixture = usePgFixture()
  const keyOf = async (table: string) =>
    fixture.sql<{ name: string; definition: string }>(`SELECT conname AS name, pg_get_constraintdef(oid) AS definition FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'p'`, [table])
  // Whether the load dropped the key: the key's index is built anew, so its relfilenode changes.
  const keyIndexFile = async (table: string) => (await fixture.sql<{ file: string }>(`SELECT pg_relation_filenode(conindid)::text AS file FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'p'`, [table]))[0]?.file

  it('loads the rows, then builds the primary key as it was', async () => {
    await fixture.sql('CREATE TABLE fresh (id bigint, label text, CONSTRAINT fresh_key PRIMARY KEY (id))')
    const before = await keyIndexFile('fresh')
    const ids = Array.from({ length: 5000 }, (_, i) => 5000 - i)
    expect(await fixture.connector().bulkImport!('fresh', copyText(ids), { columns: ['id', 'label'], createdByRun: true })).toBe(5000)
    expect(await keyOf('fresh')).toEqual([{ name: 'fresh_key', definition: 'PRIMARY KEY (id)' }])
    expect(await keyIndexFile('fresh')).not.toBe(before)
    expect(await fixture.sql('SELECT count(*)::int AS n, min(id)::int AS lo, max(id)::int AS hi FROM fresh')).toEqual([{ n: 5000, lo: 1, hi: 5000 }])
    await expect(fixture.sql(`INSERT INTO fresh VALUES (7, 'again')`)).rejects.toThrow(/duplicate key/)
  })

  it('rolls the load back when the rows repeat a key: the table empty, its key in place', async () => {
    await fixture.sql('CREATE TABLE repeated (id bigint PRIMARY KEY, label text)')
    const error = await rejection(fixture.connector().bulkImport!('repeated', copyText([1, 2, 3, 2]), { columns: ['id', 'label'], createdByRun: true }))
    expect(error.failure).toBe('data')
    expect(error.message).toMatch(/id.*2|duplicate|unique/i)
    expect(await fixture.sql('SELECT count(*)::int AS n FROM repeated')).toEqual([{ n: 0 }])
    expect(await keyOf('repeated')).toEqual([{ name: 'repeated_pkey', definition: 'PRIMARY KEY (id)' }])
  })

  it('keeps the key through the load of a table with another index, or one a foreign key points at', async () => {
    await fixture.sql('CREATE TABLE indexed (id bigint PRIMARY KEY, label text); CREATE INDEX indexed_label ON indexed (label)')
    await fixture.sql('CREATE TABLE parent (id bigint PRIMARY KEY, label text); CREATE TABLE child (id bigint PRIMARY KEY, parent_id bigint REFERENCES parent (id))')
    for (const table of ['indexed', 'parent']) {
      const before = await keyIndexFile(table)
      expect(await fixture.connector().bulkImport!(table, copyText([1, 2, 3]), { columns: ['id', 'label'], createdByRun: true })).toBe(3)
      expect(await keyIndexFile(table), table).toBe(before)
    }
  })

  it('keeps the key of a table the run did not create', async () => {
    await fixture.sql('CREATE TABLE existing (id bigint PRIMARY KEY, label text)')
    const before = await keyIndexFile('existing')
    expect(await fixture.connector().bulkImport!('existing', copyText([1, 2]), { columns: ['id', 'label'] })).toBe(2)
    expect(await keyIndexFile('existing')).toBe(before)
  })
})
