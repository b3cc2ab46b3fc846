/**
 * The connector folders' boundaries: a connector uses another one only
 * through its public surface, so a connector's internals can change freely.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const FILE_DIR = join(import.meta.dirname, '../../src/connectors/file')

describe('connector layout', () => {
  it('the file connector uses sqlite/ only through sqlite/staging-database.ts', () => {
    const reached = new Set<string>()
    for (const name of readdirSync(FILE_DIR).filter((n) => n.endsWith('.ts'))) {
      for (const match of readFileSync(join(FILE_DIR, name), 'utf8').matchAll(/from '\.\.\/sqlite\/([^']+)'/g)) reached.add(match[1]!)
    }
    expect([...reached]).toEqual(['staging-database.js'])
  })
})

describe('connector folders are parallel', () => {
  const CONNECTORS_DIR = join(import.meta.dirname, '../../src/connectors')
  const SHARED = ['connector.ts', 'source.ts', 'sink.ts', 'introspect.ts', 'codec.ts', 'errors.ts', 'url.ts']
  for (const folder of ['postgres', 'mysql', 'sqlite', 'file']) {
    it(`${folder}/ has the shared files (${SHARED.join(', ')})`, () => {
      const files = readdirSync(join(CONNECTORS_DIR, folder))
      expect(SHARED.filter((f) => !files.includes(f))).toEqual([])
    })
  }
  it('file/connector.ts is wiring only: reads and writes of the staging database live in source.ts and sink.ts', () => {
    expect(readFileSync(join(CONNECTORS_DIR, 'file', 'connector.ts'), 'utf8')).not.toMatch(/from '\.\.\/sqlite\//)
  })
  for (const folder of ['postgres', 'mysql']) {
    it(`${folder}/ keeps its check SQL in check.ts, not in connector.ts`, () => {
      expect(readdirSync(join(CONNECTORS_DIR, folder))).toContain('check.ts')
      expect(readFileSync(join(CONNECTORS_DIR, folder, 'connector.ts'), 'utf8')).not.toMatch(/current_setting|SHOW VARIABLES|@@/)
    })
  }
})
