/**
 * Writing files: nothing changes on disk until commit, commit replaces the
 * file atomically, rollback and failures leave the old file byte for byte,
 * and readers pick up files that changed on disk.
 */
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { writeAtomically } from '../../../src/connectors/file/atomic-write.js'
import { createFileConnector } from '../../../src/connectors/file/connector.js'
import { ConnectionError } from '../../../src/errors.js'
import { field } from '../../conformance/fixtures.js'
import { failure, readRows, useFileDir } from './fixture.js'

const FIELDS = [field('id', 'integer', { nullable: false }), field('name', 'text', { maxLength: 10 })]

describe('file writes', () => {
  const files = useFileDir()

  it('nothing is written before commit; rollback keeps the old file byte for byte and reads go back to it', async () => {
    const writer = files.connect('csv')
    await writer.ensureEntity('people', FIELDS, ['id'])
    expect(existsSync(join(files.path, 'people.csv'))).toBe(false)
    // Staged entities are listed and readable before their file exists.
    expect((await writer.discover()).map((e) => e.name)).toContain('people')
    await writer.apply('people', { upserts: [{ id: 1, name: 'Ann' }, { id: 2, name: 'Bob' }], deletes: [] }, { keys: ['id'] })
    expect(existsSync(join(files.path, 'people.csv'))).toBe(false)
    await writer.commit!('people')
    const before = files.bytes('people.csv')
    const mtime = statSync(join(files.path, 'people.csv')).mtimeMs

    await writer.apply('people', { upserts: [{ id: 3, name: 'Cy' }], deletes: [[1]] }, { keys: ['id'] })
    expect((await readRows(writer, 'people', ['id'])).map((r) => r.id)).toEqual([2, 3])
    await writer.rollback!('people')
    expect(files.bytes('people.csv').equals(before)).toBe(true)
    expect(await readRows(writer, 'people', ['id'])).toEqual([
      { id: 1, name: 'Ann' },
      { id: 2, name: 'Bob' },
    ])
    // A commit with nothing staged leaves the file alone.
    await writer.commit!('people')
    expect(statSync(join(files.path, 'people.csv')).mtimeMs).toBe(mtime)
    expect(readdirSync(files.path).sort()).toEqual(['people.csv', 'people.schema.json'])
  })

  it('a rejected record rolls back its batch in staging and names the file, the record and the field', async () => {
    const writer = files.connect('ndjson')
    await writer.ensureEntity('limited', FIELDS, ['id'])
    await writer.apply('limited', { upserts: [{ id: 1, name: 'ok' }], deletes: [] }, { keys: ['id'] })
    const error = await failure(writer.apply('limited', { upserts: [{ id: 2, name: 'fine' }, { id: 3, name: 'far too long a name' }], deletes: [] }, { keys: ['id'] }))
    expect(error.code).toBe('VALUE_REJECTED')
    expect(error.message).toContain(`NDJSON file ${join(files.path, 'limited.ndjson')} rejected the record {"id":3}`)
    expect(error.message).toMatch(/\bname: value of 19 characters is longer than \S+ allows \(\d+\)/)
    expect(error.message).not.toContain('SQLite table')
    expect(await writer.count('limited')).toBe(1)
  })

  it('a write that fails part-way leaves the old file and no temporary file behind', async () => {
    const path = files.write('atomic.txt', 'old content\n')
    await expect(
      writeAtomically(path, async (append) => {
        await append('new content, part one\n'.repeat(100_000))
        throw new Error('disk gone')
      }),
    ).rejects.toThrow('disk gone')
    expect(files.read('atomic.txt')).toBe('old content\n')
    expect(readdirSync(files.path).filter((n) => n.startsWith('.'))).toEqual([])
  })

  it('a reader loads the file again when it changed on disk, but keeps staged writes', async () => {
    files.write('live.csv', 'id,v\n1,a\n')
    const reader = files.connect('csv')
    expect(await readRows(reader, 'live', ['id'])).toEqual([{ id: 1, v: 'a' }])
    files.write('live.csv', 'id,v\n1,a\n2,b\n')
    expect(await readRows(reader, 'live', ['id'])).toEqual([
      { id: 1, v: 'a' },
      { id: 2, v: 'b' },
    ])
    await reader.apply('live', { upserts: [{ id: 3, v: 'c' }], deletes: [] }, { keys: ['id'] })
    files.write('live.csv', 'id,v\n9,z\n')
    expect((await readRows(reader, 'live', ['id'])).map((r) => r.id)).toEqual([1, 2, 3])
  })

  it('a destination directory is created on commit', async () => {
    const connector = createFileConnector({ name: 'out', url: 'csv:./nested/out', baseDir: files.path })
    try {
      expect(await connector.discover()).toEqual([])
      await connector.ensureEntity('t', FIELDS, ['id'])
      await connector.apply('t', { upserts: [{ id: 1, name: 'x' }], deletes: [] }, { keys: ['id'] })
      await connector.commit!('t')
      expect(files.read('nested/out/t.csv')).toBe('id,name\n1,x\n')
    } finally {
      await connector.close()
    }
  })
})

describe('file connections', () => {
  const files = useFileDir()

  it('check reports the directory, and whether it exists and can be written', async () => {
    const report = await files.connect('csv', '?delimiter=\\t').check()
    expect(report).toMatchObject({ connection: 'files', kind: 'csv', cdc: { ready: false } })
    expect(report.details).toMatchObject({ path: files.path, exists: true, writable: true, delimiter: 'tab' })
    expect(report.capabilities).toEqual({ cdc: false, transactions: true, bulkExport: false, bulkLoad: false, orderedKeyScan: true, staging: true, rangeChecksum: false })

    const missing = createFileConnector({ name: 'later', url: `ndjson:${join(files.path, 'not', 'yet')}` })
    expect((await missing.check()).details).toMatchObject({ exists: false, writable: true })
    await missing.close()

    files.write('plain-file', 'x')
    const notDir = createFileConnector({ name: 'wrong', url: `csv:${join(files.path, 'plain-file')}` })
    const error = await failure(notDir.check())
    expect(error).toBeInstanceOf(ConnectionError)
    expect(error.message).toContain('is a file, not a directory')
    await notDir.close()
  })

  it('discover lists data files only (not sidecars, hidden or temporary files) and matches names case-insensitively', async () => {
    mkdirSync(join(files.path, 'listing'))
    for (const name of ['b.csv', 'a.csv', '.a.csv.tmp-123', '.hidden.csv', 'a.schema.json', 'notes.txt']) writeFileSync(join(files.path, 'listing', name), 'id\n1\n')
    writeFileSync(join(files.path, 'listing', 'a.schema.json'), JSON.stringify({ fields: [{ name: 'id', type: 'integer' }], primaryKey: ['id'] }))
    const connector = createFileConnector({ name: 'listing', url: `csv:${join(files.path, 'listing')}` })
    try {
      const entities = await connector.discover()
      expect(entities.map((e) => e.name)).toEqual(['a', 'b'])
      expect(entities[0]!.primaryKey).toEqual(['id'])
      expect((await connector.describe('A')).name).toBe('a')
      expect(await connector.discover('missing')).toEqual([])
    } finally {
      await connector.close()
    }
  })

  it('bad URLs and entity names are config errors that say what to write', async () => {
    expect(() => createFileConnector({ name: 'x', url: 'csv:./d?sep=;' })).toThrow(/unknown csv URL option 'sep'/)
    expect(() => createFileConnector({ name: 'x', url: 'csv:./d?delimiter=ab' })).toThrow(/delimiter must be one character/)
    expect(() => createFileConnector({ name: 'x', url: 'ndjson:' })).toThrow(/names no directory/)
    const connector = files.connect('csv')
    const error = await failure(connector.ensureEntity('../escape', FIELDS, ['id']))
    expect(error.code).toBe('PLAN_INVALID')
    expect(error.message).toContain('path separator')
  })
})
