/**
 * `npm run demo`: a real sync on embedded SQLite, nothing else needed.
 *
 * It builds a small shop database, writes a plan next to it, runs a full
 * sync into a second SQLite database, changes the shop (updates, inserts,
 * deletes) and runs again, so the second run shows incremental work.
 * Everything lands in ./demo-output, which is recreated each time.
 */
import Database from 'better-sqlite3'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { runCommand } from '../cli/run.js'
import { statusCommand } from '../cli/status.js'

const DIR = resolve(process.argv[2] ?? 'demo-output')
const CUSTOMERS = 5_000
const ORDERS = 20_000
const COUNTRIES = ['de', 'fr', 'nl', 'se', 'us', 'jp', 'br']
/** Every 97th customer is banned; the customers sync filters them out. */
const isBanned = (id: number) => id % 97 === 0
const BANNED = Math.floor(CUSTOMERS / 97)

const PLAN = `# The demo plan: shop.db → warehouse.db, both embedded SQLite.
state: .syncline/state.db
connections:
  shop:      { url: "sqlite:./shop.db" }
  warehouse: { url: "sqlite:./warehouse.db" }
syncs:
  - id: customers
    source:      { connection: shop, entity: Customer }
    destination: { connection: warehouse, entity: customers, create: true }
    mode: full                      # compare everything, propagate deletes
    mapping:
      auto: true                    # CustomerId → CustomerId, Email → Email, …
      fields:
        - { source: FullName, destination: first_name, transform: "SPLIT(FullName, ' ', 0)" }
        - { destination: label, transform: "CONCAT(UPPER(Country), '-', CustomerId)" }
    filters:
      - { field: Status, op: "!=", value: banned }
  - id: orders
    source:      { connection: shop, entity: Order }
    destination: { connection: warehouse, entity: orders, create: true }
    mode: incremental               # only rows changed since the last run
    cursor: UpdatedAt
    lookback: 60s
`

function isoSecondsAgo(seconds: number): string {
  return new Date(Date.now() - seconds * 1000).toISOString()
}

function createShop(path: string): void {
  const db = new Database(path)
  db.exec(`
    CREATE TABLE Customer (CustomerId INTEGER PRIMARY KEY, FullName TEXT NOT NULL, Email TEXT, Country TEXT, Status TEXT NOT NULL, UpdatedAt TEXT NOT NULL);
    CREATE TABLE "Order" (OrderId INTEGER PRIMARY KEY, CustomerId INTEGER NOT NULL REFERENCES Customer, Amount DECIMAL(12,2) NOT NULL, PlacedAt DATETIME NOT NULL, UpdatedAt DATETIME NOT NULL);
  `)
  const customer = db.prepare('INSERT INTO Customer VALUES (?, ?, ?, ?, ?, ?)')
  const order = db.prepare('INSERT INTO "Order" VALUES (?, ?, ?, ?, ?)')
  db.transaction(() => {
    for (let id = 1; id <= CUSTOMERS; id++) {
      const country = COUNTRIES[id % COUNTRIES.length]!
      customer.run(id, `Customer${id} Example`, `customer${id}@example.org`, country, isBanned(id) ? 'banned' : 'active', isoSecondsAgo(3600))
    }
    for (let id = 1; id <= ORDERS; id++) {
      const placed = isoSecondsAgo(3600 + (id % 500))
      order.run(id, 1 + (id % CUSTOMERS), `${(id % 1000) + 0.99}`, placed, placed)
    }
  })()
  db.close()
}

/** Some business happens: the second run has something to do. */
function changeShop(path: string): void {
  const db = new Database(path)
  db.transaction(() => {
    db.prepare(`UPDATE Customer SET Email = 'new-' || Email, UpdatedAt = ? WHERE CustomerId % 100 = 1`).run(isoSecondsAgo(0))
    db.prepare('DELETE FROM "Order" WHERE CustomerId <= 10').run()
    db.prepare('DELETE FROM Customer WHERE CustomerId <= 10').run()
    db.prepare(`UPDATE "Order" SET Amount = Amount + 1, UpdatedAt = ? WHERE OrderId % 1000 = 0`).run(isoSecondsAgo(0))
    const order = db.prepare('INSERT INTO "Order" VALUES (?, ?, ?, ?, ?)')
    for (let id = ORDERS + 1; id <= ORDERS + 250; id++) order.run(id, 100 + id % 100, '42.00', isoSecondsAgo(0), isoSecondsAgo(0))
  })()
  db.close()
}

async function main(): Promise<void> {
  rmSync(DIR, { recursive: true, force: true })
  mkdirSync(DIR, { recursive: true })
  const config = join(DIR, 'syncline.yaml')
  createShop(join(DIR, 'shop.db'))
  writeFileSync(config, PLAN)
  const shown = relative(process.cwd(), config) || config
  console.log(`Created ${relative(process.cwd(), join(DIR, 'shop.db'))} with ${CUSTOMERS} customers (${BANNED} of them banned) and ${ORDERS} orders, and the plan ${shown}.`)
  console.log(`The customers sync has a filter (Status != banned): ${CUSTOMERS - BANNED} customers go to the warehouse, the banned ones stay behind.\n`)

  console.log('1) First run: everything is new.')
  let exit = await runCommand([], { config })
  if (exit !== 0) process.exit(exit)

  changeShop(join(DIR, 'shop.db'))
  console.log('\n2) The shop changed: some customers got a new email, 10 were deleted with their orders, some orders changed, 250 are new.')
  console.log('   Second run: customers are compared in full, orders read from the watermark on.')
  exit = await runCommand([], { config })
  if (exit !== 0) process.exit(exit)

  console.log('\n3) State kept between runs (syncline status):')
  await statusCommand({ config })
  console.log(`\nTry it yourself:\n  npx syncline run --dry-run --config ${shown}\n  npx syncline history orders --config ${shown}\n  npx syncline discover warehouse customers --config ${shown}`)
}

await main()
