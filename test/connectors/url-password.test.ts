/**
 * Connectors created without a plan (the library's createConnector) from a
 * URL whose password holds an unencoded `@` and `/`: the host they then try
 * is a piece of the password. The error says the password needs
 * percent-encoding or `password:`, and shows no piece of it.
 */
import { describe, expect, it } from 'vitest'
import { createConnector, redactUrl } from '../../src/connectors/registry.js'

describe('a connector from a URL with an unencoded @ and / in its password', () => {
  for (const url of ['postgres://sync:Secret@Part/Two@127.0.0.1:5432/test', 'mysql://root:Secret@Part/Two@127.0.0.1:3306/test']) {
    it(`${url.split(':')[0]}: the connection error asks for percent-encoding, naming no piece of the password`, async () => {
      const connector = await createConnector({ name: 'db', url })
      try {
        const error = await connector.check().then(() => undefined, (e: unknown) => e as Error & { code?: string })
        expect(error?.code).toBe('CONNECTION_REFUSED')
        expect(error?.message).toMatch(/percent-encode/)
        expect(error?.message).toMatch(/password: \$\{/)
        for (const piece of ['Secret', 'Part', 'Two']) expect(error?.message).not.toContain(piece)
      } finally {
        await connector.close()
      }
    }, 30_000)
  }

  it('redactUrl hides the whole password, up to the last @', () => {
    expect(redactUrl('postgres://sync:Secret@Part/Two@db:5432/x')).toBe('postgres://sync:***@db:5432/x')
    expect(redactUrl('mysql://root:Secret/Part@db/x')).toBe('mysql://root:***@db/x')
    expect(redactUrl('postgres://sync:pw@db/x?password=Secret')).toBe('postgres://sync:***@db/x?password=***')
    expect(redactUrl('postgres://sync@db:5432/x')).toBe('postgres://sync@db:5432/x')
  })
})
