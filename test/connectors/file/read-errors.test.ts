/**
 * Bad files are reported with the file, the line (where the record starts)
 * and, where one is to blame, the field: never read as something else.
 */
import { describe, expect, it } from 'vitest'
import { failure, useFileDir } from './fixture.js'

const ID_NAME_SCHEMA = JSON.stringify({
  fields: [
    { name: 'id', type: 'integer', nullable: false },
    { name: 'name', type: 'text', nullable: false },
  ],
  primaryKey: ['id'],
})

describe('CSV read errors', () => {
  const files = useFileDir()

  it('a ragged row names its line, counted past quoted line breaks (CRLF too)', async () => {
    const path = files.write('ragged.csv', 'id,name\r\n1,a\r\n2,"two\r\nlines"\r\n3\r\n4,d\r\n')
    const error = await failure(files.connect('csv').count('ragged'))
    expect(error.code).toBe('VALUE_REJECTED')
    expect(error.failure).toBe('data')
    expect(error.message).toContain(`${path} line 5:`)
    expect(error.message).toContain('1 value(s) but the header has 2')
    expect(error.details).toMatchObject({ path, line: 5 })

    files.write('wide.csv', 'id,name\n1,a\n2,b,extra\n')
    expect((await failure(files.connect('csv').describe('wide'))).message).toMatch(/wide\.csv line 3: the record has 3 value\(s\) but the header has 2/)
  })

  it('an unterminated quote names the line of the record it opens in', async () => {
    files.write('open.csv', 'id,name\n1,a\n2,"never\nclosed\n3,c\n')
    const error = await failure(files.connect('csv').count('open'))
    expect(error.message).toMatch(/open\.csv line 3: a quoted value that starts in this record is never closed/)
    expect(error.message).toContain('""')
  })

  it('stray quotes name the line', async () => {
    files.write('after.csv', 'id,name\n1,"a"b\n')
    expect((await failure(files.connect('csv').count('after'))).message).toMatch(/after\.csv line 2: text follows the closing quote/)
    files.write('inside.csv', 'id,name\n1,a\n2,say "hi"\n')
    expect((await failure(files.connect('csv').count('inside'))).message).toMatch(/inside\.csv line 3: an unquoted value contains a quote/)
  })

  it('invalid UTF-8 names the line and the field, and is never replaced by U+FFFD', async () => {
    files.write('latin1.csv', Buffer.concat([Buffer.from('id,name,city\n1,"two\nlines",Berlin\n2,caf'), Buffer.from([0xe9]), Buffer.from(',Paris\n')]))
    const error = await failure(files.connect('csv').count('latin1'))
    expect(error.code).toBe('VALUE_REJECTED')
    expect(error.message).toMatch(/latin1\.csv line 4, field 'name': the bytes e9 2c 50 61 are not valid UTF-8/)
    expect(error.message).toContain('UTF-8')
    expect(error.details).toMatchObject({ line: 4, field: 'name' })
  })

  it('a value that does not parse as its sidecar type names the line and the field', async () => {
    files.write('typed.schema.json', ID_NAME_SCHEMA)
    files.write('typed.csv', 'id,name\r\n1,"a\r\nb"\r\n2.5,b\r\n')
    const error = await failure(files.connect('csv').count('typed'))
    expect(error.code).toBe('VALUE_REJECTED')
    expect(error.message).toMatch(/typed\.csv line 4, field 'id': "2\.5" is not an integer/)
  })

  it('NULL in a field the sidecar makes NOT NULL, a repeated key and a header that does not match are named', async () => {
    files.write('nulls.schema.json', ID_NAME_SCHEMA)
    files.write('nulls.csv', 'id,name\n1,""\n2,\n')
    expect((await failure(files.connect('csv').count('nulls'))).message).toMatch(/nulls\.csv line 3, field 'name': the value is empty \(NULL\)/)

    files.write('dups.schema.json', ID_NAME_SCHEMA)
    files.write('dups.csv', 'id,name\n1,a\n2,b\n1,c\n')
    expect((await failure(files.connect('csv').count('dups'))).message).toMatch(/dups\.csv line 4: the record repeats the primary key \(id\)/)

    files.write('header.schema.json', ID_NAME_SCHEMA)
    files.write('header.csv', 'id,nmae\n1,a\n')
    expect((await failure(files.connect('csv').describe('header'))).message).toMatch(/header\.csv line 1: the header has a column 'nmae' that its schema file does not list/)
  })

  it('a file without a sidecar whose later rows stop fitting the inferred type says so', async () => {
    const lines = ['id,code', ...Array.from({ length: 1200 }, (_, i) => `${i + 1},${i === 1100 ? 'X1' : i}`)]
    files.write('late.csv', `${lines.join('\n')}\n`)
    const connector = files.connect('csv')
    expect((await connector.describe('late')).fields.map((f) => f.type)).toEqual(['integer', 'integer'])
    const error = await failure(connector.count('late'))
    expect(error.message).toMatch(/late\.csv line 1102, field 'code': "X1" is not an integer/)
    expect(error.message).toContain('first 1000 rows')
  })
})

describe('NDJSON read errors', () => {
  const files = useFileDir()

  it('a line that is not a JSON object names the line', async () => {
    files.write('broken.ndjson', '{"id":1}\n\n{"id":2,\n{"id":3}\n')
    const error = await failure(files.connect('ndjson').describe('broken'))
    expect(error.code).toBe('VALUE_REJECTED')
    expect(error.message).toMatch(/broken\.ndjson line 3: the line is not a JSON object/)
    files.write('array.ndjson', '{"id":1}\n[1,2]\n')
    expect((await failure(files.connect('ndjson').describe('array'))).message).toMatch(/array\.ndjson line 2: the line is not a JSON object/)
  })

  it('invalid UTF-8 names the line and the field', async () => {
    files.write('latin1.ndjson', Buffer.concat([Buffer.from('{"id":1,"name":"ok"}\n{"id":2,"name":"caf'), Buffer.from([0xe9]), Buffer.from('","city":"Paris"}\n')]))
    const error = await failure(files.connect('ndjson').count('latin1'))
    expect(error.message).toMatch(/latin1\.ndjson line 2, field 'name': the bytes e9 22 2c 22 are not valid UTF-8/)
  })

  it('a value of the wrong type and a field the sidecar does not list name the line and the field', async () => {
    files.write('typed.schema.json', ID_NAME_SCHEMA)
    files.write('typed.ndjson', '{"id":1,"name":"a"}\n{"id":"two","name":"b"}\n')
    expect((await failure(files.connect('ndjson').count('typed'))).message).toMatch(/typed\.ndjson line 2, field 'id': "two" is not an integer/)

    files.write('extra.schema.json', ID_NAME_SCHEMA)
    files.write('extra.ndjson', '{"id":1,"name":"a","email":"x@y"}\n')
    expect((await failure(files.connect('ndjson').count('extra'))).message).toMatch(/extra\.ndjson line 1, field 'email': the object has a field 'email', but its schema file does not list it/)

    files.write('object.schema.json', ID_NAME_SCHEMA)
    files.write('object.ndjson', '{"id":1,"name":{"first":"a"}}\n')
    expect((await failure(files.connect('ndjson').count('object'))).message).toMatch(/object\.ndjson line 1, field 'name': the object \{"first":"a"\} is not a text/)
  })

  it('a malformed sidecar is a config error naming it', async () => {
    const path = files.write('bad.schema.json', '{"fields":[{"name":"id","type":"number"}]}')
    files.write('bad.ndjson', '{"id":1}\n')
    const error = await failure(files.connect('ndjson').describe('bad'))
    expect(error.code).toBe('PLAN_INVALID')
    expect(error.failure).toBe('config')
    expect(error.message).toContain(path)
    expect(error.message).toContain('fields.0.type')
  })
})
