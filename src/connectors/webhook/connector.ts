/**
 * The webhook connector: a write-only destination that POSTs change events
 * to an HTTP endpoint. What was delivered is kept in a {@link DeliveryLedger},
 * which answers the engine's reads, so full and incremental syncs send only
 * what changed and deletes arrive as delete events.
 */
import { NotFoundError, throwIfAborted } from '../../errors.js'
import { compareKeys } from '../../values/compare.js'
import { recordId } from '../../values/record-id.js'
import { sortKey, sortKeyEncodable } from '../../values/sort-key.js'
import type { EntityInfo, FieldInfo, KeyValues, Row } from '../../values/canonical.js'
import { keyOf, type ApplyBatch, type ApplyOptions, type ApplyResult, type Capabilities, type CheckReport, type ConnectionConfig, type Connector, type ScanOptions } from '../connector.js'
import { recordRejected } from './errors.js'
import { DeliveryLedger } from './ledger.js'
import { webhookOptions, type WebhookOptions } from './options.js'
import { idempotencyKey, jsonKey, jsonRow, jsonValue, postBatch, send, type ChangeEvent, type WebhookAuth } from './sink.js'

/** What the webhook connector can do: write, one batch per request. */
export const WEBHOOK_CAPABILITIES: Capabilities = { cdc: false, transactions: false, bulkExport: false, bulkLoad: false, orderedKeyScan: true, staging: false, rangeChecksum: false }

/**
 * A connector for an HTTP endpoint.
 * @example createWebhookConnector({ name: 'hooks', url: 'webhook:https://example.org/in', token: 's3cret' })
 */
export function createWebhookConnector(config: ConnectionConfig): Connector {
  return new WebhookConnector(config)
}

class WebhookConnector implements Connector {
  readonly name: string
  readonly kind = 'webhook'
  readonly capabilities = WEBHOOK_CAPABILITIES
  private readonly options: WebhookOptions
  private readonly auth: WebhookAuth
  private readonly ledger: DeliveryLedger
  /** Records the endpoint rejected that the engine has not isolated yet (recordId → reason). */
  private readonly rejected = new Map<string, string>()
  /** The run (its signal) and entity {@link rejected} belongs to: another run or entity starts afresh. */
  private rejectedIn: { signal: AbortSignal | undefined; entity: string } | undefined
  /** Set once {@link discover} found the endpoint answering. */
  private reachable: Promise<void> | undefined

  constructor(config: ConnectionConfig) {
    this.name = config.name
    this.options = webhookOptions(config.name, config.url)
    this.auth = { token: config.token, secret: config.secret }
    this.ledger = new DeliveryLedger(config.name, config.baseDir)
  }

  async check(opts: { signal?: AbortSignal } = {}): Promise<CheckReport> {
    await this.probe(opts.signal)
    const endpoint = new URL(this.options.endpoint)
    return {
      connection: this.name,
      kind: this.kind,
      version: 'http',
      capabilities: this.capabilities,
      cdc: { ready: false, reason: 'a webhook is a destination only' },
      details: { endpoint: endpoint.origin + endpoint.pathname, ledger: this.ledger.path, timeoutMs: this.options.timeoutMs, attempts: this.options.attempts },
    }
  }

  /**
   * Discovering reaches the endpoint once per connector, as describing a
   * table connects to its server: `validate --live` and a run's preparation
   * then fail early, with the endpoint named, when it does not answer.
   */
  async discover(entity?: string): Promise<EntityInfo[]> {
    this.reachable ??= this.probe().catch((error: unknown) => {
      this.reachable = undefined
      throw error
    })
    await this.reachable
    const names = entity === undefined ? this.ledger.entities() : [entity]
    return names.flatMap((name) => {
      const info = this.ledger.entity(name)
      return info ? [{ name, fields: info.fields, primaryKey: info.keys, uniqueKeys: [], foreignKeys: [] }] : []
    })
  }

  /** An empty batch: the endpoint must answer 2xx to a POST with no events (retried like a batch). */
  private async probe(signal?: AbortSignal): Promise<void> {
    await send(this.name, this.options, this.auth, JSON.stringify({ idempotencyKey: 'check', events: [] }), 'check', signal)
  }

  async describe(entity: string): Promise<EntityInfo> {
    const [info] = await this.discover(entity)
    if (info) return info
    throw new NotFoundError('ENTITY_NOT_FOUND', 'config', `Webhook '${this.name}' has delivered nothing to '${entity}' yet; set create: true on the sync's destination so the first run declares it.`)
  }

  async count(entity: string): Promise<number> {
    return this.ledger.entity(entity) ? this.ledger.count(entity) : 0
  }

  /**
   * Delivered rows in key order. Keys with a byte sort key (every key type
   * has one) page through the ledger `batchSize` rows at a time, so memory
   * stays bounded; other keys would be sorted in memory.
   */
  async *scan(entity: string, opts: ScanOptions): AsyncIterable<Row[]> {
    const types = this.keyTypes(entity, opts.keys)
    if (this.sortedByLedger(entity, opts.keys) && !this.ledger.unsorted(entity)) {
      let after = opts.after === undefined ? undefined : sortKey(types, opts.after)
      for (;;) {
        throwIfAborted(opts.signal)
        const page = this.ledger.page(entity, after, opts.batchSize)
        if (page.length > 0) yield page.map((r) => pick(r.row, opts.fields))
        if (page.length < opts.batchSize) return
        after = page[page.length - 1]!.sortKey
      }
    }
    let rows = this.ledger.rows(entity).map((row) => ({ row, key: keyOf(row, opts.keys) }))
    if (opts.after) rows = rows.filter((r) => compareKeys(types, r.key, opts.after!) > 0)
    rows.sort((a, b) => compareKeys(types, a.key, b.key))
    for (let i = 0; i < rows.length; i += opts.batchSize) {
      throwIfAborted(opts.signal)
      yield rows.slice(i, i + opts.batchSize).map((r) => pick(r.row, opts.fields))
    }
  }

  async lookup(entity: string, _keys: string[], values: KeyValues[], fields: string[]): Promise<Row[]> {
    return values.flatMap((key) => {
      const row = this.ledger.row(entity, key)
      return row ? [pick(row, fields)] : []
    })
  }

  async ensureEntity(entity: string, fields: FieldInfo[], keys: string[]): Promise<void> {
    this.ledger.declare(entity, { fields, keys })
  }

  /**
   * Post the batch's changes not delivered yet. The endpoint's rejections are
   * remembered and thrown as data errors, so the engine's batch writer
   * isolates them as record errors without posting the accepted ones again.
   */
  async apply(entity: string, batch: ApplyBatch, opts: ApplyOptions): Promise<ApplyResult> {
    const keys = opts.keys
    // A run that failed past maxErrors leaves rejections it never isolated; they must not reject records of a later run.
    if (this.rejectedIn?.signal !== opts.signal || this.rejectedIn?.entity !== entity) {
      this.rejected.clear()
      this.rejectedIn = { signal: opts.signal, entity }
    }
    const events: ChangeEvent[] = []
    const upserts: { id: string; key: KeyValues; row: Row }[] = []
    const deletes: { id: string; key: KeyValues }[] = []
    const known: string[] = []
    const base = { connection: this.name, entity }
    for (const row of batch.upserts) {
      const key = keyOf(row, keys)
      const id = recordId(key)
      if (this.rejected.has(id)) known.push(id)
      const before = this.ledger.row(entity, key)
      if (this.rejected.has(id) || (before && sameRow(before, row))) continue
      const changes = Object.fromEntries(Object.keys(row).filter((f) => !before || JSON.stringify(jsonValue(before[f])) !== JSON.stringify(jsonValue(row[f]))).map((f) => [f, jsonValue(row[f])]))
      events.push({ type: before ? 'update' : 'create', ...base, recordId: id, key: jsonKey(keys, key), record: jsonRow(row), changes })
      upserts.push({ id, key, row })
    }
    for (const key of batch.deletes) {
      const id = recordId(key)
      if (this.rejected.has(id)) known.push(id)
      if (this.rejected.has(id) || !this.ledger.row(entity, key)) continue
      events.push({ type: 'delete', ...base, recordId: id, key: jsonKey(keys, key) })
      deletes.push({ id, key })
    }
    if (events.length > 0) {
      const idKey = idempotencyKey(this.name, entity, this.ledger.batches(entity), events)
      const rejections = await postBatch(this.name, this.options, this.auth, idKey, events, opts.signal)
      // Written only now that the endpoint acknowledged, and only what it accepted.
      this.ledger.acknowledge(
        entity,
        upserts.filter((u) => !rejections.has(u.id)),
        deletes.filter((d) => !rejections.has(d.id)).map((d) => d.key),
        this.sortedByLedger(entity, keys) ? this.keyTypes(entity, keys) : undefined,
      )
      for (const [id, reason] of rejections) {
        this.rejected.set(id, reason)
        known.push(id)
      }
    }
    const first = known[0]
    if (first !== undefined) {
      const reason = this.rejected.get(first) ?? 'rejected'
      // Alone in its batch: the engine records it now, so forget it.
      if (batch.upserts.length + batch.deletes.length === 1) this.rejected.delete(first)
      throw recordRejected(this.name, first, reason)
    }
    return { upserted: batch.upserts.length, deleted: batch.deletes.length }
  }

  /** Whether the ledger's sort keys order rows by these keys: the declared keys, of types with a byte sort key. */
  private sortedByLedger(entity: string, keys: readonly string[]): boolean {
    const declared = this.ledger.entity(entity)?.keys
    return declared !== undefined && declared.join('\u0000') === keys.join('\u0000') && sortKeyEncodable(this.keyTypes(entity, [...keys]))
  }

  private keyTypes(entity: string, keys: string[]): FieldInfo['type'][] {
    const fields = this.ledger.entity(entity)?.fields ?? []
    return keys.map((k) => fields.find((f) => f.name === k)?.type ?? 'text')
  }

  async close(): Promise<void> {
    this.ledger.close()
  }
}

function pick(row: Row, fields: readonly string[]): Row {
  const out: Row = {}
  for (const f of fields) out[f] = row[f] ?? null
  return out
}

function sameRow(a: Row, b: Row): boolean {
  return JSON.stringify(jsonRow(a, Object.keys(b))) === JSON.stringify(jsonRow(b))
}
