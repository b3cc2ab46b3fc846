/**
 * A PostgreSQL / SQLite / MariaDB pair of `items` tables for two-way tests,
 * with helpers to edit either side natively and read both back canonically.
 */
import type { SyncPlanInput } from '../../../src/plan/schema.js'
import type { Row } from '../../../src/values/canonical.js'
import { openDatasource, type DatasourceKind, type TestDatasource } from '../datasources.js'
import { readAll } from '../sync-harness.js'

/** The items table in each dialect: a key, three data fields, a timestamp cursor. */
export function itemsTable(kind: DatasourceKind): string {
  const ts = kind === 'postgres' ? 'timestamptz' : kind === 'mysql' ? 'DATETIME(6)' : 'TIMESTAMP'
  const dec = kind === 'sqlite' ? 'NUMERIC(10,2)' : 'DECIMAL(10,2)'
  return `CREATE TABLE items (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL, qty INTEGER, price ${dec}, updated_at ${ts})`
}

/** A two-way sync of `items` between connections `src` and `dst`. */
export function itemsSync(extra: Partial<SyncPlanInput> = {}): SyncPlanInput {
  return {
    id: 'items',
    source: { connection: 'src', entity: 'items' },
    destination: { connection: 'dst', entity: 'items' },
    mode: 'incremental',
    direction: 'two-way',
    cursor: 'updated_at',
    lookback: '0s',
    batchSize: 7,
    ...extra,
  }
}

/** Both sides, created with the items table. */
export async function openPair(sourceKind: DatasourceKind, destinationKind: DatasourceKind): Promise<{ src: TestDatasource; dst: TestDatasource }> {
  const src = await openDatasource(sourceKind, 'src')
  const dst = await openDatasource(destinationKind, 'dst')
  await src.exec(itemsTable(sourceKind))
  await dst.exec(itemsTable(destinationKind))
  return { src, dst }
}

/** An item as written by a test. */
export interface Item {
  id: number
  name: string
  qty: number | null
  price: string | null
  updated_at: string
}

/** Insert or replace an item natively (the cursor as given). */
export async function putItem(ds: TestDatasource, item: Item): Promise<void> {
  const ts = ds.kind === 'mysql' ? item.updated_at.replace('T', ' ').replace('Z', '') : item.updated_at
  await ds.exec('DELETE FROM items WHERE id = ?', [item.id])
  await ds.exec('INSERT INTO items (id, name, qty, price, updated_at) VALUES (?, ?, ?, ?, ?)', [item.id, item.name, item.qty, item.price, ts])
}

/** Update some fields of an item natively. */
export async function updateItem(ds: TestDatasource, id: number, fields: Partial<Omit<Item, 'id'>>): Promise<void> {
  const entries = Object.entries(fields).map(([k, v]) => [k, k === 'updated_at' && ds.kind === 'mysql' ? String(v).replace('T', ' ').replace('Z', '') : v] as const)
  await ds.exec(`UPDATE items SET ${entries.map(([k]) => `${k} = ?`).join(', ')} WHERE id = ?`, [...entries.map(([, v]) => v), id])
}

export async function deleteItem(ds: TestDatasource, id: number): Promise<void> {
  await ds.exec('DELETE FROM items WHERE id = ?', [id])
}

/** Items as canonical rows without the cursor, decimals normalised: what both sides must agree on. */
export async function items(ds: TestDatasource): Promise<Row[]> {
  const rows = await readAll(ds, 'items', ['id'])
  return rows.map((r) => ({ id: Number(r.id), name: r.name ?? null, qty: r.qty === null ? null : Number(r.qty), price: r.price === null || r.price === undefined ? null : Number(r.price).toFixed(2) }))
}

/** A timestamp `n` seconds after a fixed start, so tests order edits exactly. */
export function at(n: number): string {
  return new Date(Date.UTC(2026, 0, 1) + n * 1000).toISOString().replace(/\.\d{3}Z$/, '.000000Z')
}
