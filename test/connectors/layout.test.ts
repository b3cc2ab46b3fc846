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
