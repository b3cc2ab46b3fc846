/**
 * A password with an unencoded `@` or `/` in a postgres:// or mysql:// URL
 * (issue 6, item 10): the URL then parses with part of the password as the
 * host ("host 'Part' not found. Fix the host"), or not at all. `validate`,
 * `check` and `run` say instead that the password needs percent-encoding or
 * `password:`, exit 2, and never print any piece of the password.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { BUILD_TIMEOUT_MS, ensureBuilt } from './build.js'
import { STACK_FRAME } from './cli.js'
import { workspace, type Workspace } from './workspace.js'

beforeAll(ensureBuilt, BUILD_TIMEOUT_MS)

let ws: Workspace | undefined
afterEach(() => {
  ws?.remove()
  ws = undefined
})

/** The password `Secret@Part/Two`, written into URLs as a careless user would. */
const PIECES = ['Secret', 'Part', 'Two']

const URLS = [
  'postgres://sync:Secret@Part/Two@127.0.0.1:5432/test',
  'postgresql://sync:Secret/Part@127.0.0.1/test',
  'mysql://root:Secret@Part/Two@127.0.0.1:3306/test',
  'mariadb://root:Secret/Part@127.0.0.1/test',
  'mysql://root:Secret?Part@127.0.0.1/test',
]

function planFor(url: string): string {
  return `connections:
  shop:
    url: sqlite:./shop.db
  db:
    url: "${url}"
syncs:
  - id: items
    source: { connection: shop, entity: items }
    destination: { connection: db, entity: items, create: true }
`
}

describe('an unencoded @ or / in a URL password', () => {
  for (const url of URLS) {
    it(`${url} asks for percent-encoding or password:`, async () => {
      ws = workspace()
      ws.sqlite('shop.db', 'CREATE TABLE items (id INTEGER PRIMARY KEY)')
      ws.write('syncline.yaml', planFor(url))
      for (const args of [['validate'], ['check', 'db'], ['run']]) {
        const result = await ws.run(args)
        expect(result.code, `${args.join(' ')}: ${result.all}`).toBe(2)
        expect(result.all).toMatch(/connections\.db\.url/)
        expect(result.all).toMatch(/password/)
        expect(result.all).toMatch(/percent-encode/)
        expect(result.all).toMatch(/%40/)
        expect(result.all).toMatch(/%2F/)
        expect(result.all).toMatch(/password: \$\{/)
        expect(result.all).not.toMatch(/not found|Fix the host/)
        expect(result.all).not.toMatch(STACK_FRAME)
        for (const piece of PIECES) expect(result.all, `${args.join(' ')} printed '${piece}'`).not.toContain(piece)
      }
    })
  }

  it('in the state store URL too', async () => {
    ws = workspace()
    ws.write('syncline.yaml', `state: "postgres://sync:Secret@Part/Two@127.0.0.1:5432/test"
connections: {}
syncs: []
`)
    const result = await ws.run(['status'])
    expect(result.code, result.all).toBe(2)
    expect(result.all).toMatch(/state: .*percent-encode/)
    for (const piece of PIECES) expect(result.all).not.toContain(piece)
  })

  it('an encoded password, and an @ in a query parameter, are fine', async () => {
    ws = workspace()
    ws.write('syncline.yaml', `connections:
  a:
    url: "postgres://sync:Secret%40Part%2FTwo@127.0.0.1:5432/test"
  b:
    url: "postgres://sync@127.0.0.1:5432/test?application_name=me@host"
syncs: []
`)
    const result = await ws.run(['validate'])
    expect(result.code, result.all).toBe(0)
  })
})
