/**
 * The delivery ledger: what the endpoint has acknowledged, per entity and
 * key, in a SQLite file beside the plan (`.syncline/webhook-NAME.db`). An
 * endpoint cannot be read back, so `scan`, `lookup` and `count` answer from
 * here and the engine's full merge and incremental diff work unchanged. Rows
 * are written only after the endpoint acknowledged their batch.
 */
import { mkdirSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import Database from 'better-sqlite3'
import { decodeStateValue, encodeStateValue } from '../../state/serialize-value.js'
import type { CanonicalType, FieldInfo, KeyValues, Row } from '../../values/canonical.js'
import { sortKey } from '../../values/sort-key.js'

/** An entity as {@link Connector.ensureEntity} declared it. */
export interface LedgerEntity {
  fields: FieldInfo[]
  keys: string[]
}

/** The ledger file of one webhook connection. */
export class DeliveryLedger {
  private db: Database.Database | undefined
  /** Prepared once per SQL text: `apply` looks up every row of a batch. */
  private readonly statements = new Map<string, Database.Statement>()
  readonly path: string

  constructor(connection: string, baseDir: string | undefined) {
    const safe = connection.replace(/[^A-Za-z0-9_-]/g, '_')
    this.path = resolve(baseDir ?? process.cwd(), join('.syncline', `webhook-${safe}.db`))
  }

  private open(): Database.Database {
    if (this.db) return this.db
    mkdirSync(dirname(this.path), { recursive: true })
    const db = new Database(this.path)
    db.pragma('journal_mode = WAL')
    db.exec(`CREATE TABLE IF NOT EXISTS entities (entity TEXT PRIMARY KEY, fields TEXT NOT NULL, keys TEXT NOT NULL, batches INTEGER NOT NULL DEFAULT 0);
      CREATE TABLE IF NOT EXISTS delivered (entity TEXT NOT NULL, key TEXT NOT NULL, row TEXT NOT NULL, sort_key BLOB, PRIMARY KEY (entity, key));
      CREATE INDEX IF NOT EXISTS delivered_in_key_order ON delivered (entity, sort_key)`)
    this.db = db
    return db
  }

  private statement(sql: string): Database.Statement {
    let statement = this.statements.get(sql)
    if (!statement) this.statements.set(sql, (statement = this.open().prepare(sql)))
    return statement
  }

  /** The declared entity, or undefined before the first `ensureEntity`. */
  entity(entity: string): LedgerEntity | undefined {
    const row = this.statement('SELECT fields, keys FROM entities WHERE entity = ?').get(entity) as { fields: string; keys: string } | undefined
    return row ? { fields: JSON.parse(row.fields) as FieldInfo[], keys: JSON.parse(row.keys) as string[] } : undefined
  }

  /** Every declared entity's name. */
  entities(): string[] {
    return (this.statement('SELECT entity FROM entities ORDER BY entity').pluck().all() as string[])
  }

  /** Declare (or redeclare) an entity's fields and keys. */
  declare(entity: string, info: LedgerEntity): void {
    this.open()
      .prepare('INSERT INTO entities (entity, fields, keys) VALUES (?, ?, ?) ON CONFLICT (entity) DO UPDATE SET fields = excluded.fields, keys = excluded.keys')
      .run(entity, JSON.stringify(info.fields), JSON.stringify(info.keys))
  }

  /** Batches delivered so far: part of the next batch's idempotency key, so equal content sent later is a new batch. */
  batches(entity: string): number {
    return (this.statement('SELECT batches FROM entities WHERE entity = ?').pluck().get(entity) as number | undefined) ?? 0
  }

  /**
   * Up to `limit` delivered rows in key order (the order of their
   * {@link sortKey}), after the row whose sort key is `after`; for keys
   * whose types have a sort key.
   */
  page(entity: string, after: Buffer | undefined, limit: number): { row: Row; sortKey: Buffer }[] {
    const rows = (
      after === undefined
        ? this.statement('SELECT row, sort_key FROM delivered WHERE entity = ? ORDER BY sort_key LIMIT ?').all(entity, limit)
        : this.statement('SELECT row, sort_key FROM delivered WHERE entity = ? AND sort_key > ? ORDER BY sort_key LIMIT ?').all(entity, after, limit)
    ) as { row: string; sort_key: Buffer }[]
    return rows.map((r) => ({ row: decodeStateValue(r.row) as Row, sortKey: r.sort_key }))
  }

  /** Whether some delivered row has no sort key (written under other keys): then only a sort in memory orders them. */
  unsorted(entity: string): boolean {
    return this.statement('SELECT 1 FROM delivered WHERE entity = ? AND sort_key IS NULL LIMIT 1').get(entity) !== undefined
  }

  /** Every delivered row (unordered). */
  rows(entity: string): Row[] {
    return (this.statement('SELECT row FROM delivered WHERE entity = ?').pluck().all(entity) as string[]).map((t) => decodeStateValue(t) as Row)
  }

  /** The delivered row with this key, if any. */
  row(entity: string, key: KeyValues): Row | undefined {
    const text = this.statement('SELECT row FROM delivered WHERE entity = ? AND key = ?').pluck().get(entity, encodeStateValue(key)) as string | undefined
    return text === undefined ? undefined : (decodeStateValue(text) as Row)
  }

  /** Rows delivered so far. */
  count(entity: string): number {
    return this.statement('SELECT count(*) FROM delivered WHERE entity = ?').pluck().get(entity) as number
  }

  /**
   * Record one acknowledged batch: its accepted upserts and deletes, in one
   * transaction. With `keyTypes` (the declared keys' types) each row gets
   * its sort key, so scans can page in key order.
   */
  acknowledge(entity: string, upserts: { key: KeyValues; row: Row }[], deletes: KeyValues[], keyTypes: readonly CanonicalType[] | undefined): void {
    const db = this.open()
    const put = this.statement('INSERT INTO delivered (entity, key, row, sort_key) VALUES (?, ?, ?, ?) ON CONFLICT (entity, key) DO UPDATE SET row = excluded.row, sort_key = excluded.sort_key')
    const remove = this.statement('DELETE FROM delivered WHERE entity = ? AND key = ?')
    db.transaction(() => {
      for (const u of upserts) put.run(entity, encodeStateValue(u.key), encodeStateValue(u.row), (keyTypes && sortKey(keyTypes, u.key)) ?? null)
      for (const key of deletes) remove.run(entity, encodeStateValue(key))
      this.statement('UPDATE entities SET batches = batches + 1 WHERE entity = ?').run(entity)
    })()
  }

  close(): void {
    this.statements.clear()
    this.db?.close()
    this.db = undefined
  }
}
