/**
 * The registry hands out each connector's own URL rules by scheme, and the
 * plan's URL check is exactly those rules (no connector's format in plan/).
 */
import { describe, expect, it } from 'vitest'
import { CONNECTORS, SUPPORTED_SCHEMES, connectorForScheme } from '../../src/connectors/registry.js'
import { connectionProblems } from '../../src/plan/connection-url.js'

describe('connector registry', () => {
  it('every scheme belongs to exactly one connector, and unknown schemes to none', () => {
    expect(SUPPORTED_SCHEMES).toEqual(CONNECTORS.flatMap((c) => c.schemes))
    expect(new Set(SUPPORTED_SCHEMES).size).toBe(SUPPORTED_SCHEMES.length)
    expect(connectorForScheme('mariadb')).toBe(connectorForScheme('mysql'))
    expect(connectorForScheme('ftp')).toBeUndefined()
  })

  it("the plan reports a connection's problems as its connector's URL rules give them", () => {
    const cases = [
      { name: 'db', url: 'mariadb://u:secret@h/db', password: 'x' },
      { name: 'pg', url: 'postgres://u:p@ss/w@db/x' },
      { name: 'lite', url: 'sqlite:', password: 'x' },
      { name: 'files', url: 'csv:', password: 'x' },
    ]
    for (const connection of cases) {
      const scheme = connection.url.split(':')[0]!
      const expected = connectorForScheme(scheme)!
        .urlRules.problems(connection.url, connection, scheme, connection.name)
        .map((p) => ({ path: `connections.${connection.name}.${p.field}`, message: p.message }))
      expect(expected.length).toBeGreaterThan(0)
      expect(connectionProblems(connection.name, connection)).toEqual(expected)
    }
  })
})
