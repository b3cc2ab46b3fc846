/**
 * Change feeds from PostgreSQL's trigger change log (`cdc: triggers`): for
 * servers without logical replication or users without REPLICATION. The
 * SQL is change-log-sql.ts, installation trigger-setup.ts; the design
 * (commit order, exact values, pruning) is in docs/realtime.md.
 *
 * @example
 * const feed = await warehouse.openChangeFeed('public.orders', { consumer: 'sync_orders' })
 * for await (const rows of feed.snapshot({ fields, keys: ['id'], batchSize: 5000 })) …
 * for await (const batch of feed.changes()) { …; await feed.ack(batch.position) }
 */
import QueryStream from 'pg-query-stream'
import type pg from 'pg'
import { SynclineError, throwIfAborted } from '../../errors.js'
import type { KeyValues, Row } from '../../values/canonical.js'
import { valuesEqual } from '../../values/compare.js'
import type { ChangeBatch, ChangeFeed, ChangeFeedOptions, ChangeType, Position, SourceChange } from '../change-feed.js'
import { keyOf, type ScanOptions } from '../connector.js'
import { columnOf } from '../sql/key-rows.js'
import { CHANGE_CHANNEL, ENTITY_KEY, LOCK_HORIZON, NUMBER_COMMITS, WHOLE_TRANSACTION } from './change-log-sql.js'
import { quoteIdent } from './dialect.js'
import { classifyPgError } from './errors.js'
import type { PgTable } from './introspect.js'
import { holdClient, type Endpoint, type HeldClient } from './pool.js'
import { SCAN_APPLICATION_NAME, scanQuery, type PgContext } from './source.js'
import { consumerRow, ensureTrigger, feedApplicationName, installChangeLog, registerConsumer } from './trigger-setup.js'
import { compareLogPositions, formatLogPosition, parseLogPosition, type LogPosition } from './trigger-position.js'

/** What a trigger feed needs from the connector. */
export interface TriggerContext extends PgContext {
  endpoint: Endpoint
  /** A connection outside the pool, for LISTEN (the feed ends it). */
  newClient(applicationName: string): pg.Client
  /** The entity described afresh (its columns changed), replacing the cached description. */
  refreshTable(entity: string): Promise<PgTable>
  /** The connector's open feeds: a feed is in it from open to close, so closing the connector closes it. */
  openFeeds?: Set<ChangeFeed>
}

/** The LISTEN connection and whether it has failed (then the feed opens a new one). */
interface Listener {
  client: pg.Client
  lost: boolean
}

/** How long a feed sleeps without a notification before it looks anyway (a missed NOTIFY, a reconnect). */
export const BACKSTOP_MS = 5000

const CONSUMER_NAME = /^[a-z0-9_]{1,40}$/
const OPS: Record<string, ChangeType> = { I: 'create', U: 'update', D: 'delete' }

/**
 * Open a feed on an entity: install the change log and the entity's trigger
 * if needed, register the consumer, and (without `from`) open the
 * REPEATABLE READ transaction whose snapshot `snapshot()` reads.
 */
export async function openTriggerFeed(ctx: TriggerContext, entity: string, opts: ChangeFeedOptions): Promise<ChangeFeed> {
  throwIfAborted(opts.signal)
  if (!CONSUMER_NAME.test(opts.consumer)) {
    throw new SynclineError('PLAN_INVALID', 'config', `Change feed consumer '${opts.consumer}' is not a valid name: use 1 to 40 of a-z, 0-9 and _.`)
  }
  const table = await ctx.table(entity)
  const keys = opts.keys ?? table.info.primaryKey
  if (keys.length === 0) throw new SynclineError('KEY_MISSING', 'config', `Entity '${entity}' has no primary key: give the key fields of its change feed (keys: [...]).`)
  for (const key of keys) columnOf(table, key)
  const where = `consumer '${opts.consumer}' of ${entity} on ${ctx.endpoint.label}`
  const from = opts.from === undefined ? undefined : parseLogPosition(opts.from, where)
  const held = await holdClient(ctx.pool())
  let keep = false
  try {
    const { client } = held
    await installChangeLog(client, ctx.endpoint)
    const keyRows = await client.query<{ key: string }>(`SELECT ${ENTITY_KEY} AS key`, [table.schema, table.table])
    const entityKey = keyRows.rows[0]!.key
    const feed = new TriggerFeed(ctx, entity, table, entityKey, opts.consumer, keys, Math.max(1, Math.floor(opts.maxBatchSize ?? 1000)), opts.signal)
    if (from) {
      await feed.resume(client, from, where)
      ctx.openFeeds?.add(feed)
      return feed
    }
    await client.query('BEGIN')
    await registerConsumer(client, opts.consumer, entityKey)
    await ensureTrigger(client, table.schema, table.table, entityKey, ctx.endpoint)
    await client.query('COMMIT')
    // The snapshot: everything visible in it is in the table as snapshot()
    // reads it; numbered transactions up to `top` are all visible in it, and
    // ones numbered later but visible in it are skipped by the stream.
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
    await client.query(`SET LOCAL application_name = '${SCAN_APPLICATION_NAME}'`)
    const start = await client.query<{ snap: string; top: string }>(`SELECT pg_current_snapshot()::text AS snap, coalesce(max(pos), 0)::text AS top FROM syncline.commits`)
    const { snap, top } = start.rows[0]!
    await ctx.pool().query(`UPDATE syncline.consumers SET pos = $3, seq = ${WHOLE_TRANSACTION}, skip_snapshot = $4::pg_snapshot WHERE consumer = $1 AND entity = $2`, [opts.consumer, entityKey, top, snap])
    feed.begin({ pos: top, seq: WHOLE_TRANSACTION }, snap, held)
    keep = true
    ctx.openFeeds?.add(feed)
    return feed
  } catch (error) {
    await held.client.query('ROLLBACK').catch(() => undefined)
    throw classifyPgError(error, ctx.errorContext(entity))
  } finally {
    if (!keep) held.release()
  }
}

class TriggerFeed implements ChangeFeed {
  #start: LogPosition = { pos: '0', seq: WHOLE_TRANSACTION }
  #skipSnapshot: string | null = null
  /** The REPEATABLE READ transaction of a fresh feed's snapshot, until snapshot() or changes() ends it. */
  #snapshotClient: HeldClient | undefined
  #iterated = false
  #closed = false
  #wake: (() => void) | undefined
  #pending = false
  /** The LISTEN connection while changes() runs; close() ends it even when the caller abandoned the iteration. */
  #listener: Listener | undefined
  #table: PgTable
  #readSql: string
  readonly #abort: () => void

  constructor(
    private readonly ctx: TriggerContext,
    private readonly entity: string,
    table: PgTable,
    private readonly entityKey: string,
    private readonly consumer: string,
    private readonly keys: string[],
    private readonly maxBatchSize: number,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.#table = table
    this.#readSql = readQuery(table)
    this.#abort = () => this.#notify()
    signal?.addEventListener('abort', this.#abort, { once: true })
  }

  get start(): Position {
    return formatLogPosition(this.#start)
  }

  /** A fresh feed: its start and the snapshot transaction snapshot() reads. */
  begin(start: LogPosition, skipSnapshot: string, snapshotClient: HeldClient): void {
    this.#start = start
    this.#skipSnapshot = skipSnapshot
    this.#snapshotClient = snapshotClient
  }

  /** Continue a consumer after `from`: it must still exist and not be acknowledged past `from`. */
  async resume(client: pg.PoolClient, from: LogPosition, where: string): Promise<void> {
    const row = await consumerRow(client, this.consumer, this.entityKey)
    if (!row) {
      throw new SynclineError('POSITION_LOST', 'config', `${where}: the change log keeps no position for it (the consumer was dropped). Start the feed afresh (without a position) to read a new snapshot.`)
    }
    if (compareLogPositions(from, row) < 0) {
      throw new SynclineError(
        'POSITION_LOST',
        'config',
        `${where}: position ${formatLogPosition(from)} is before the acknowledged ${formatLogPosition(row)}, and the changes in between may be pruned. Resume from the position saved last, or start afresh.`,
      )
    }
    const trigger = await client.query(`SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass($1) AND tgname = 'syncline_capture'`, [this.entityKey])
    if (trigger.rows.length === 0) {
      throw new SynclineError('POSITION_LOST', 'config', `${where}: the capture trigger on the table was dropped, so changes were not logged. Start the feed afresh (without a position) to read a new snapshot.`)
    }
    this.#start = from
    this.#skipSnapshot = row.skip_snapshot
  }

  async *snapshot(opts: Omit<ScanOptions, 'cursor' | 'after'>): AsyncGenerator<Row[]> {
    const held = this.#snapshotClient
    if (!held || this.#iterated) {
      throw new SynclineError('INTERNAL', 'internal', `snapshot() of ${this.#table.info.name}: only a feed opened without a position has one, and only before changes() is iterated.`)
    }
    throwIfAborted(opts.signal)
    const { sql, params } = scanQuery(this.#table, { fields: opts.fields, keys: opts.keys, ...(opts.filters ? { filters: opts.filters } : {}) })
    const batchSize = Math.max(1, Math.floor(opts.batchSize))
    const cursor = (held.client.query(new QueryStream(sql, params, { batchSize })) as QueryStream).cursor as { read(n: number): Promise<Row[]>; close(): Promise<void> }
    try {
      for (;;) {
        const rows = await cursor.read(batchSize)
        if (rows.length > 0) yield rows
        if (rows.length < batchSize) break
        throwIfAborted(opts.signal)
      }
    } catch (error) {
      throw classifyPgError(error, this.ctx.errorContext(this.#table.info.name))
    } finally {
      await cursor.close().catch(() => undefined)
      await this.#endSnapshot()
    }
  }

  async *changes(): AsyncGenerator<ChangeBatch> {
    if (this.#iterated) throw new SynclineError('INTERNAL', 'internal', `changes() of ${this.#table.info.name} is iterated once per feed.`)
    this.#iterated = true
    await this.#endSnapshot()
    let position = this.#start
    try {
      for (;;) {
        if (this.#closed || this.signal?.aborted) return
        this.#listener ??= await this.#listen()
        if (this.#closed) return
        this.#pending = false
        await this.#numberCommits()
        for (;;) {
          const { changes, top } = await this.#read(position)
          const last = changes.at(-1)
          const full = changes.length === this.maxBatchSize
          // A short read saw every change up to `top`: the position moves there.
          const next = full && last ? parseLogPosition(last.position, '') : { pos: top, seq: WHOLE_TRANSACTION }
          if (changes.length > 0 || compareLogPositions(next, position) > 0) {
            position = next
            yield { changes, position: formatLogPosition(position) }
          }
          if (!full || this.#closed || this.signal?.aborted) break
        }
        if (!this.#pending) await this.#sleep()
        if (this.#listener?.lost) await this.#endListener()
      }
    } catch (error) {
      throw classifyPgError(error, this.ctx.errorContext(this.#table.info.name))
    } finally {
      await this.#endListener()
    }
  }

  async #endListener(): Promise<void> {
    const listener = this.#listener
    this.#listener = undefined
    await listener?.client.end().catch(() => undefined)
  }

  async ack(position: Position): Promise<void> {
    const at = parseLogPosition(position, `ack of consumer '${this.consumer}'`)
    const pool = this.ctx.pool()
    try {
      await pool.query(
        `UPDATE syncline.consumers SET pos = $3, seq = $4, acked_at = now() WHERE consumer = $1 AND entity = $2 AND (pos, seq) < ($3::bigint, $4::bigint)`,
        [this.consumer, this.entityKey, at.pos, at.seq],
      )
      // What every consumer of this entity has handled, then what every consumer of any entity has.
      await pool.query(
        `WITH low AS (SELECT pos, seq FROM syncline.consumers WHERE entity = $1 ORDER BY pos, seq LIMIT 1)
         DELETE FROM syncline.changes c USING syncline.commits m, low
          WHERE c.xid = m.xid AND c.entity = $1 AND m.pos <= low.pos AND (m.pos, c.seq) <= (low.pos, low.seq)`,
        [this.entityKey],
      )
      await pool.query(
        `WITH low AS (SELECT min(pos) AS pos FROM syncline.consumers),
         gone AS (DELETE FROM syncline.changes c USING syncline.commits m, low WHERE c.xid = m.xid AND m.pos < low.pos)
         DELETE FROM syncline.commits m USING low WHERE m.pos < low.pos`,
      )
    } catch (error) {
      throw classifyPgError(error, this.ctx.errorContext(this.#table.info.name))
    }
  }

  async close(): Promise<void> {
    this.ctx.openFeeds?.delete(this)
    this.#closed = true
    this.signal?.removeEventListener('abort', this.#abort)
    this.#notify()
    await this.#endSnapshot()
    await this.#endListener()
  }

  #notify(): void {
    this.#pending = true
    this.#wake?.()
  }

  async #endSnapshot(): Promise<void> {
    const held = this.#snapshotClient
    this.#snapshotClient = undefined
    if (!held) return
    let broken = false
    await held.client.query('COMMIT').catch(() => {
      broken = true
    })
    held.release(broken)
  }

  /** A connection that LISTENs for the trigger's notifications; undefined when it cannot connect (the backstop still wakes the feed). */
  async #listen(): Promise<Listener | undefined> {
    const client = this.ctx.newClient(feedApplicationName(this.consumer))
    const listener: Listener = { client, lost: false }
    client.on('error', () => {
      listener.lost = true
      this.#notify()
    })
    client.on('notification', (message) => {
      if (message.channel === CHANGE_CHANNEL && message.payload === this.entityKey) this.#notify()
    })
    try {
      await client.connect()
      await client.query(`LISTEN ${quoteIdent(CHANGE_CHANNEL)}`)
      return listener
    } catch {
      await client.end().catch(() => undefined)
      return undefined
    }
  }

  /** Wait for a notification, the backstop, close or abort, whichever comes first. */
  #sleep(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this.#wake = undefined
        resolve()
      }
      const timer = setTimeout(done, BACKSTOP_MS)
      this.#wake = done
      if (this.#pending || this.#closed || this.signal?.aborted) done()
    })
  }

  /** One numbering round (see NUMBER_COMMITS): transactions committed since the last round get their `pos`. */
  async #numberCommits(): Promise<void> {
    const held = await holdClient(this.ctx.pool())
    let broken = false
    try {
      await held.client.query('BEGIN')
      await held.client.query(LOCK_HORIZON)
      await held.client.query(NUMBER_COMMITS)
      await held.client.query('COMMIT')
    } catch (error) {
      broken = (await held.client.query('ROLLBACK').then(() => false, () => true))
      throw error
    } finally {
      held.release(broken)
    }
  }

  /** The next changes after `position`, and the highest numbered transaction in the same snapshot. */
  async #read(position: LogPosition): Promise<{ changes: SourceChange[]; top: string }> {
    let result = await this.#query(position)
    if (Number(result.rows[0]?.[1]) !== this.#table.info.fields.length) {
      // Columns were added or dropped since the table was described: read
      // with its columns now (a logged row that predates the change cannot
      // fit them and fails as SCHEMA_DRIFT).
      this.#table = await this.ctx.refreshTable(this.entity)
      for (const key of this.keys) columnOf(this.#table, key)
      this.#readSql = readQuery(this.#table)
      result = await this.#query(position)
    }
    const fields = this.#table.info.fields
    const top = String(result.rows[0]?.[0] ?? position.pos)
    const changes: SourceChange[] = []
    for (const values of result.rows) {
      if (values[2] === null || values[2] === undefined) continue
      const op = String(values[4])
      const record = op === 'D' ? undefined : rowOf(fields, values, 7)
      const before = op === 'I' ? undefined : rowOf(fields, values, 7 + fields.length)
      const key = keyOf((record ?? before)!, this.keys)
      const change: SourceChange = { type: OPS[op] ?? 'update', key, position: formatLogPosition({ pos: String(values[2]), seq: String(values[3]) }) }
      if (record) change.record = record
      if (before) {
        change.before = before
        const previous = keyOf(before, this.keys)
        if (record && !this.#sameKey(previous, key)) change.previousKey = previous
      }
      if (typeof values[6] === 'string') change.committedAt = values[6]
      change.transaction = String(values[5])
      changes.push(change)
    }
    return { changes, top }
  }

  async #query(position: LogPosition): Promise<pg.QueryArrayResult> {
    try {
      return await this.ctx.pool().query({
        text: this.#readSql,
        values: [this.entityKey, position.pos, position.seq, this.maxBatchSize, this.#skipSnapshot, this.#table.sql],
        rowMode: 'array',
      })
    } catch (error) {
      throw driftError(error, this.#table) ?? error
    }
  }

  #sameKey(a: KeyValues, b: KeyValues): boolean {
    return this.keys.every((name, i) => valuesEqual(this.#table.fields.get(name)!.type, a[i] ?? null, b[i] ?? null))
  }
}

function rowOf(fields: PgTable['info']['fields'], values: unknown[], offset: number): Row {
  const row: Row = {}
  for (let i = 0; i < fields.length; i++) row[fields[i]!.name] = (values[offset + i] ?? null) as Row[string]
  return row
}

/**
 * The read of one batch, in one statement (one snapshot): the highest
 * numbered transaction, and the entity's changes after the position up to
 * it, in (pos, seq) order. The page of positions is chosen first, without
 * touching the logged rows: the rest of the current transaction straight
 * off the (xid, entity, seq) index, then the transactions after it. Only
 * the page's rows are then decoded: the logged record text is cast back to
 * the table's row type in this session (UTC, ISO), so each column arrives
 * with its own type and goes through the same parsers as a scan: values
 * equal what `scan` reads. `OFFSET 0` keeps each cast from being repeated
 * per column.
 */
function readQuery(table: PgTable): string {
  const names = table.info.fields.map((f) => quoteIdent(f.name))
  // Enum arrays are read as text[], as scan reads them (introspect.ts readCast).
  const casts = table.info.fields.map((f) => {
    const cast = table.columns.get(f.name)?.readCast
    return cast ? `::${cast}` : ''
  })
  const newCols = names.map((n, i) => `(nr.r).${n}${casts[i]} AS n${i}`)
  const oldCols = names.map((n, i) => `(orow.r).${n}${casts[i]} AS o${i}`)
  const skip = 'AND ($5::pg_snapshot IS NULL OR NOT pg_visible_in_snapshot(m.xid, $5::pg_snapshot))'
  return `WITH hi AS (SELECT coalesce(max(pos), 0) AS top,
                  (SELECT count(*)::int FROM pg_attribute WHERE attrelid = $6::regclass AND attnum > 0 AND NOT attisdropped) AS width
             FROM syncline.commits),
page AS (
  SELECT * FROM (
    (SELECT m.pos, c.seq, m.xid, m.last_change_at FROM syncline.commits m JOIN syncline.changes c ON c.xid = m.xid AND c.entity = $1
      WHERE m.pos = $2::bigint AND c.seq > $3::bigint ${skip} ORDER BY c.seq LIMIT $4)
    UNION ALL
    (SELECT m.pos, c.seq, m.xid, m.last_change_at FROM hi, syncline.commits m JOIN syncline.changes c ON c.xid = m.xid AND c.entity = $1
      WHERE m.pos > $2::bigint AND m.pos <= hi.top ${skip} ORDER BY m.pos, c.seq LIMIT $4)
  ) candidates ORDER BY pos, seq LIMIT $4
)
SELECT hi.top::text, hi.width, ch.* FROM hi LEFT JOIN LATERAL (
  SELECT p.pos::text AS pos, p.seq::text AS seq, c.op::text AS op, p.xid::text AS xid, p.last_change_at${[...newCols, ...oldCols].map((c) => `, ${c}`).join('')}
    FROM page p JOIN syncline.changes c ON c.seq = p.seq
    LEFT JOIN LATERAL (SELECT c.new_row::${table.sql} AS r OFFSET 0) nr ON true
    LEFT JOIN LATERAL (SELECT c.old_row::${table.sql} AS r OFFSET 0) orow ON true
   ORDER BY p.pos, p.seq) ch ON true`
}

/** A logged row that no longer fits the table (a column added, dropped or retyped meanwhile). */
function driftError(error: unknown, table: PgTable): SynclineError | undefined {
  const code = (error as { code?: string }).code
  if (code !== '22P02' && code !== '42703' && code !== '42804') return undefined
  return new SynclineError(
    'SCHEMA_DRIFT',
    'config',
    `${table.info.name}: a logged change no longer fits the table's columns (${(error as Error).message}); its columns changed while changes were pending. Let the feed catch up before altering a captured table, or drop the feed and start afresh (a new snapshot).`,
    { cause: error },
  )
}
