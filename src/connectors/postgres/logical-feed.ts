/**
 * A change feed over PostgreSQL logical replication (pgoutput): the
 * `cdc: auto` implementation of `openChangeFeed` (src/connectors/change-feed.ts).
 *
 * Opening without `from` (re)creates the consumer's publication and slot;
 * the slot's exported snapshot is what `snapshot()` reads, so no change
 * falls between snapshot and stream. `changes()` streams from the slot
 * through pg-logical-replication's connection, with its automatic
 * acknowledgements off: the server is told a position only once the
 * consumer `ack`s it, and keepalives that ask for an answer get the last
 * acknowledged one (never a later one, never an earlier one: PostgreSQL 15
 * takes a lower confirmed LSN as given and would replay from there).
 *
 * Memory is bounded by the batch size, not the transaction: pgoutput sends
 * a transaction after it committed, row by row, and the feed pauses the
 * socket while more than `maxBatchSize` messages wait, so TCP holds the rest
 * back. Unchanged TOASTed values come from the old row (REPLICA IDENTITY
 * FULL) or from the table by key, read once per batch.
 */
import type { LogicalReplicationService } from 'pg-logical-replication'
import type pg from 'pg'
import { SynclineError, throwIfAborted } from '../../errors.js'
import type { Row } from '../../values/canonical.js'
import { microsToTimestamp } from '../../values/temporal.js'
import type { ChangeBatch, ChangeFeed, ChangeFeedOptions, Position } from '../change-feed.js'
import type { ConnectionConfig, ScanOptions } from '../connector.js'
import { columnOf } from '../sql/key-rows.js'
import { pgErrorKind } from './errors.js'
import type { PgTable } from './introspect.js'
import { comparePositions, confirmLsn, formatLsn, formatPosition, parseLsn, parsePosition, type LogicalPosition } from './logical-position.js'
import { PgoutputTextPlugin, type PgoutputMessage, type RelationMessage } from './pgoutput-messages.js'
import { completeChanges, rowChange, type ChangeShape, type PendingChange } from './logical-changes.js'
import { relationDecoder, type RelationDecoder } from './pgoutput-values.js'
import {
  createSlot,
  dropSlotIfPresent,
  ensurePublication,
  positionLost,
  replicationClientConfig,
  replicationError,
  resumableSlot,
  slotName,
  streamLost,
  waitUntilInactive,
  type CreatedSlot,
} from './replication-slot.js'
import { scanRows, type PgContext } from './source.js'

/** What the feed needs from the connector beyond the source's context. */
export interface FeedContext extends PgContext {
  config: ConnectionConfig
  /** The connector's open feeds: closing the connector closes them (their replication connections are their own). */
  openFeeds: Set<ChangeFeed>
}

/** How often an idle feed asks the server where the WAL is, so its position moves on and WAL is released. */
const PROGRESS_INTERVAL_MS = 5_000

/** Least time between two batches that carry no change, only a new position. */
const POSITION_ONLY_INTERVAL_MS = 1_000

/** How long `changes()` retries a slot another reader still holds (55006) right after it disconnected. */
const SLOT_BUSY_WAIT_MS = 15_000

type StreamEvent = { kind: 'message'; message: PgoutputMessage } | { kind: 'keepalive'; lsn: bigint } | { kind: 'end'; error?: unknown }

/** Open a logical-replication feed for one entity (see the file comment). */
export async function openLogicalFeed(ctx: FeedContext, entity: string, opts: ChangeFeedOptions): Promise<ChangeFeed> {
  throwIfAborted(opts.signal)
  const slot = slotName(opts.consumer)
  const table = await ctx.table(entity)
  if (!table.writable) throw new SynclineError('CDC_NOT_READY', 'config', `Entity '${entity}' in connection '${ctx.errorContext().connection}' is a view: PostgreSQL replicates tables only. Capture the table(s) behind it.`)
  const keys = opts.keys ?? table.info.primaryKey
  if (keys.length === 0) throw new SynclineError('KEY_MISSING', 'config', `Entity '${entity}' has no primary key: give the feed's keys (the sync's keys:) to identify its rows.`)
  for (const key of keys) columnOf(table, key)
  const pool = ctx.pool()
  const context = ctx.errorContext(entity)
  const { identity, generated } = await replicaIdentity(pool, table, keys, entity)
  const maxBatchSize = Math.max(1, Math.floor(opts.maxBatchSize ?? 1000))

  let created: CreatedSlot | undefined
  let start: LogicalPosition
  let confirmed: bigint
  try {
    if (opts.from !== undefined) {
      start = parsePosition(opts.from, opts.consumer)
      const row = await resumableSlot(pool, slot, opts.consumer, opts.signal)
      if (!(await publicationCovers(pool, slot, table))) throw positionLost(slot, opts.consumer, `its publication '${slot}' was dropped or changed`)
      confirmed = row.confirmed_flush_lsn ? parseLsn(row.confirmed_flush_lsn) : 0n
      if (confirmed > confirmLsn(start)) {
        throw positionLost(slot, opts.consumer, `its slot '${slot}' already released the WAL up to ${formatLsn(confirmed)}, after position ${opts.from} (a later position was acknowledged)`)
      }
    } else {
      // A fresh start needs a fresh slot: only slot creation exports a snapshot.
      await dropSlotIfPresent(pool, slot, opts.signal)
      // The publication first: pgoutput reads it as of each change's LSN.
      await ensurePublication(pool, slot, table)
      created = await createSlot(ctx.config, slot, context, opts.signal)
      start = { lsn: created.consistentPoint, index: -1 }
      confirmed = created.consistentPoint
    }
  } catch (error) {
    throw replicationError(error, context, slot)
  }
  const types = keys.map((k) => columnOf(table, k).field.type)
  return new LogicalFeed({ ctx, entity, table, keys, types, slot, consumer: opts.consumer, start, confirmed, created, maxBatchSize, fullIdentity: identity === 'f', generated, signal: opts.signal })
}

/**
 * The table's replica identity, refusing what would break the source or
 * the feed: with no identity (none, or default without a primary key)
 * PostgreSQL rejects UPDATE and DELETE on a published table; with keys the
 * identity does not cover, deletes would not say which row went.
 */
async function replicaIdentity(pool: pg.Pool, table: PgTable, keys: readonly string[], entity: string): Promise<{ identity: string; generated: string[] }> {
  const { rows } = await pool.query<{ identity: string; columns: string; generated: string }>(
    `SELECT c.relreplident AS identity,
            coalesce((SELECT json_agg(a.attname::text) FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attgenerated <> '' AND NOT a.attisdropped), '[]')::text AS generated,
            coalesce((SELECT json_agg(a.attname::text) FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
                       WHERE i.indrelid = c.oid AND CASE c.relreplident WHEN 'd' THEN i.indisprimary WHEN 'i' THEN i.indisreplident ELSE false END), '[]')::text AS columns
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`,
    [table.schema, table.table],
  )
  const identity = rows[0]?.identity ?? 'd'
  const columns = JSON.parse(rows[0]?.columns ?? '[]') as string[]
  const fix = `Run ALTER TABLE ${table.sql} REPLICA IDENTITY FULL (updates then also carry the row before them)`
  if (identity === 'n' || (identity !== 'f' && columns.length === 0)) {
    throw new SynclineError('CDC_NOT_READY', 'config', `Entity '${entity}' has no replica identity (no primary key, or REPLICA IDENTITY NOTHING): once published, PostgreSQL would refuse its UPDATEs and DELETEs. ${fix}, or add a primary key.`)
  }
  const uncovered = keys.filter((k) => !columns.includes(k))
  if (identity !== 'f' && uncovered.length > 0) {
    throw new SynclineError('CDC_NOT_READY', 'config', `Entity '${entity}': key field(s) ${uncovered.join(', ')} are not in its replica identity (${columns.join(', ')}), so deletes would not name the row. ${fix}, or use the primary key as the keys.`)
  }
  return { identity, generated: JSON.parse(rows[0]?.generated ?? '[]') as string[] }
}

async function publicationCovers(pool: pg.Pool, publication: string, table: PgTable): Promise<boolean> {
  const { rows } = await pool.query<{ schemaname: string; tablename: string }>('SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1', [publication])
  return rows.length === 1 && rows[0]!.schemaname === table.schema && rows[0]!.tablename === table.table
}

interface FeedSetup extends ChangeShape {
  ctx: FeedContext
  entity: string
  table: PgTable
  slot: string
  consumer: string
  start: LogicalPosition
  /** The slot's confirmed LSN as the feed opened: never report less. */
  confirmed: bigint
  created: CreatedSlot | undefined
  maxBatchSize: number
  signal: AbortSignal | undefined
}

class LogicalFeed implements ChangeFeed {
  readonly start: Position
  #acked: bigint
  #service: LogicalReplicationService | undefined
  #streaming = false
  #changesStarted = false
  #closed = false
  #wake: (() => void) | undefined
  readonly #queue: StreamEvent[] = []
  #paused = false
  readonly #onAbort = () => void this.close()

  constructor(private readonly s: FeedSetup) {
    this.start = formatPosition(s.start)
    this.#acked = s.confirmed
    s.signal?.addEventListener('abort', this.#onAbort, { once: true })
    s.ctx.openFeeds.add(this)
  }

  snapshot(opts: Omit<ScanOptions, 'cursor' | 'after'>): AsyncIterable<Row[]> {
    const created = this.s.created
    if (!created || this.#changesStarted || this.#closed) {
      throw new SynclineError('INTERNAL', 'internal', `Change feed '${this.s.consumer}': snapshot() is only for a feed opened without a position, before changes() is iterated.`)
    }
    // The exported snapshot is valid while the slot's creating connection stays idle: it is closed once the scan ends.
    return withFinally(
      scanRows(this.s.ctx, this.s.entity, opts, ['BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', `SET TRANSACTION SNAPSHOT '${created.snapshotName.replace(/'/g, "''")}'`]),
      () => this.#releaseSnapshot(),
    )
  }

  async #releaseSnapshot(): Promise<void> {
    const created = this.s.created
    this.s.created = undefined
    await created?.client.end().catch(() => undefined)
  }

  async ack(position: Position): Promise<void> {
    const lsn = confirmLsn(parsePosition(position, this.s.consumer))
    if (lsn <= this.#acked) return
    this.#acked = lsn
    if (this.#streaming) this.#report(false)
    else if (this.#closed) await this.#advanceClosedSlot(lsn)
  }

  /** An ack after close: move the slot itself (it has no reader now). */
  async #advanceClosedSlot(lsn: bigint): Promise<void> {
    try {
      await this.s.ctx.pool().query('SELECT pg_replication_slot_advance($1, $2::pg_lsn)', [this.s.slot, formatLsn(lsn)])
    } catch {
      // Best effort: the next feed of this consumer reports it again.
    }
  }

  /** Tell the server what the consumer has handled (pg-logical-replication adds 1 to what it is given). */
  #report(ping: boolean): void {
    if (this.#service) this.#reportTo(this.#service, ping)
  }

  #reportTo(service: LogicalReplicationService, ping = false): void {
    void service.acknowledge(formatLsn(this.#acked - 1n), ping).catch(() => undefined)
  }

  async *changes(): AsyncGenerator<ChangeBatch> {
    if (this.#changesStarted) throw new SynclineError('INTERNAL', 'internal', `Change feed '${this.s.consumer}': changes() may be iterated once.`)
    this.#changesStarted = true
    await this.#releaseSnapshot()
    if (this.#closed) return
    const timer = setInterval(() => this.#report(true), PROGRESS_INTERVAL_MS)
    try {
      await this.#startStream()
      yield* this.#read()
    } finally {
      clearInterval(timer)
      await this.#stopStream()
    }
  }

  async #startStream(): Promise<void> {
    const deadline = Date.now() + SLOT_BUSY_WAIT_MS
    // Loaded when a feed starts: a batch run never needs it (a twentieth of a second less at start-up).
    const { LogicalReplicationService } = await import('pg-logical-replication')
    for (;;) {
      if (this.#closed) return
      const service = new LogicalReplicationService(replicationClientConfig(this.s.ctx.config), { acknowledge: { auto: false, timeoutSeconds: 0 } })
      this.#service = service
      // Events of a service given up (a busy slot's retry) must not reach the next one's queue.
      const push = (event: StreamEvent) => {
        if (this.#service === service) this.#push(event)
      }
      service.on('error', (error: unknown) => push({ kind: 'end', error }))
      service.on('data', (_lsn: string, message: PgoutputMessage) => push({ kind: 'message', message }))
      service.on('heartbeat', (lsn: string, _time: number, reply: boolean) => {
        push({ kind: 'keepalive', lsn: parseLsn(lsn) })
        if (reply) this.#report(false)
      })
      const started = new Promise<void>((resolve) => service.once('start', () => resolve()))
      const plugin = new PgoutputTextPlugin({ publication: this.s.slot })
      const subscribed = service.subscribe(plugin as never, this.s.slot)
      subscribed.then(
        () => push({ kind: 'end' }),
        (error: unknown) => push({ kind: 'end', error }),
      )
      try {
        await Promise.race([started, subscribed.then(() => undefined)])
      } catch (error) {
        this.#service = undefined
        await service.destroy().catch(() => undefined)
        this.#queue.length = 0
        const busy = (error as { code?: string }).code === '55006'
        if (busy && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 200))
          continue
        }
        throw this.#streamError(error)
      }
      this.#streaming = true
      // The consumer may have acknowledged before the stream began.
      this.#report(false)
      return
    }
  }

  async #stopStream(): Promise<void> {
    const wasStreaming = this.#streaming
    this.#streaming = false
    const service = this.#service
    this.#service = undefined
    if (!service) return
    if (wasStreaming) this.#reportTo(service)
    await service.destroy().catch(() => undefined)
    // The walsender handles what was sent before it exits: once the slot is inactive, the last
    // acknowledgement shows in pg_replication_slots, and the consumer can be reopened or dropped at once.
    if (wasStreaming) await waitUntilInactive(this.s.ctx.pool(), this.s.slot).catch(() => undefined)
  }

  #push(event: StreamEvent): void {
    // PostgreSQL sends a keepalive for each transaction it skips (other tables'): while the consumer is
    // busy they pile up, and a queue full of them would pause the socket and leave the server's
    // reply requests unread. Only the latest matters.
    const last = this.#queue[this.#queue.length - 1]
    if (event.kind === 'keepalive' && last?.kind === 'keepalive') {
      if (event.lsn > last.lsn) last.lsn = event.lsn
      return
    }
    this.#queue.push(event)
    // Hold the socket while the consumer is behind: TCP keeps the rest at the server.
    if (!this.#paused && this.#queue.length > this.s.maxBatchSize) {
      this.#paused = true
      this.#socket()?.pause()
    }
    this.#wake?.()
  }

  async #next(): Promise<StreamEvent> {
    while (this.#queue.length === 0) {
      if (this.#closed) return { kind: 'end' }
      await new Promise<void>((resolve) => (this.#wake = resolve))
      this.#wake = undefined
    }
    const event = this.#queue.shift()!
    if (this.#paused && this.#queue.length <= this.s.maxBatchSize / 2) {
      this.#paused = false
      this.#socket()?.resume()
    }
    return event
  }

  /** The replication connection's socket; pg-logical-replication keeps it private, and offers no backpressure without reordering keepalives. */
  #socket(): { pause(): void; resume(): void } | undefined {
    return (this.#service as unknown as { _connection?: { stream?: { pause(): void; resume(): void } } } | undefined)?._connection?.stream
  }

  async *#read(): AsyncGenerator<ChangeBatch> {
    const { maxBatchSize } = this.s
    const from = this.s.start
    const decoders = new Map<number, RelationDecoder>()
    let batch: PendingChange[] = []
    let emitted = from
    let lastMove = -Infinity
    let reached = from
    let tx: { lsn: bigint; xid: string; committedAt: string; index: number } | undefined
    for (;;) {
      if (this.#closed) return
      // Inside a transaction the rest is on its way (pgoutput sends a transaction once it committed): a
      // partial batch goes out only when full, so its last change can still take the commit's position.
      // A batch that only moves the position goes out at most once a second: a busy server sends a
      // keepalive for every transaction of other tables, and a batch for each would keep the consumer busy.
      const moved = comparePositions(reached, emitted) > 0 && performance.now() - lastMove >= POSITION_ONLY_INTERVAL_MS
      const due = batch.length >= maxBatchSize || (!tx && this.#queue.length === 0 && (batch.length > 0 || moved))
      if (due) {
        const changes = await completeChanges(this.s.ctx, this.s.entity, this.s.keys, batch, this.s.signal)
        batch = []
        emitted = reached
        if (changes.length === 0) lastMove = performance.now()
        yield { changes, position: formatPosition(reached) }
        continue
      }
      const event = await this.#next()
      if (event.kind === 'end') {
        if (event.error === undefined || this.#closed) return
        throw this.#streamError(event.error)
      }
      if (event.kind === 'keepalive') {
        // Between transactions the server's sent position covers every commit before it.
        if (!tx && event.lsn > reached.lsn) reached = { lsn: event.lsn, index: -1 }
        continue
      }
      const message = event.message
      switch (message.tag) {
        case 'begin':
          tx = { lsn: message.finalLsn, xid: String(message.xid), committedAt: microsToTimestamp(message.commitMicros), index: -1 }
          break
        case 'commit': {
          tx = undefined
          const after = { lsn: message.endLsn, index: -1 }
          if (comparePositions(after, reached) > 0) reached = after
          // The transaction's last change says "all of it": acknowledging it releases the whole transaction,
          // and the slot's confirmed position then reads back as this very position.
          const last = batch[batch.length - 1]
          if (last?.commitLsn === message.commitLsn) last.change.position = formatPosition(after)
          break
        }
        case 'relation':
          decoders.set(message.oid, await relationDecoder(this.s.ctx.pool(), message))
          break
        case 'insert':
        case 'update':
        case 'delete': {
          if (!tx) throw this.#protocolError('a row change outside a transaction')
          tx.index++
          const position = { lsn: tx.lsn, index: tx.index }
          if (comparePositions(position, from) <= 0) break
          const decoder = decoders.get(message.relation)
          if (!decoder) throw this.#protocolError(`a change of relation ${message.relation} before its description`)
          if (!this.#isOurs(decoder.relation)) break
          const pending = rowChange(this.s, decoder, message)
          Object.assign(pending.change, { position: formatPosition(position), committedAt: tx.committedAt, transaction: tx.xid })
          pending.commitLsn = tx.lsn
          batch.push(pending)
          reached = position
          break
        }
        case 'truncate':
          throw positionLost(this.s.slot, this.s.consumer, `table ${this.s.table.sql} was truncated (TRUNCATE is not a row change a feed can deliver)`)
        case 'invalid':
          throw this.#protocolError(message.error.message)
        default:
          break
      }
    }
  }

  /**
   * Why the stream ended: the slot dropped or invalidated under it is
   * POSITION_LOST; a server error is what it says; anything else is a lost
   * connection (transient: the engine reopens from its saved position).
   */
  #streamError(error: unknown): SynclineError {
    const code = (error as { code?: string }).code
    const message = error instanceof Error ? error.message : String(error)
    if (code === '42704' && /replication slot/.test(message)) return positionLost(this.s.slot, this.s.consumer, `its replication slot '${this.s.slot}' was dropped`, error)
    if (code === '55000' && /invalidated|no longer get changes/i.test(message)) {
      return positionLost(this.s.slot, this.s.consumer, `its replication slot '${this.s.slot}' was invalidated (it fell behind max_slot_wal_keep_size)`, error)
    }
    const context = this.s.ctx.errorContext(this.s.entity)
    if (code === undefined || pgErrorKind(error) === 'lost') return streamLost(context, this.s.slot, error)
    return replicationError(error, context, this.s.slot)
  }

  #isOurs(relation: RelationMessage): boolean {
    return relation.schema === this.s.table.schema && relation.name === this.s.table.table
  }

  #protocolError(what: string): SynclineError {
    return new SynclineError('INTERNAL', 'internal', `Change feed '${this.s.consumer}' (slot '${this.s.slot}') received ${what}; reopen the feed from its last position.`)
  }

  /** A change from a row message, without position (the caller adds it). */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.s.ctx.openFeeds.delete(this)
    this.s.signal?.removeEventListener('abort', this.#onAbort)
    this.#wake?.()
    await this.#releaseSnapshot()
    if (!this.#changesStarted) return
    await this.#stopStream()
  }
}

/** An async iterable that runs `cleanup` once iteration ends, however it ends. */
async function* withFinally<T>(source: AsyncIterable<T>, cleanup: () => Promise<void>): AsyncGenerator<T> {
  try {
    yield* source
  } finally {
    await cleanup()
  }
}
