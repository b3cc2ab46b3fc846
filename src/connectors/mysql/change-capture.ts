/**
 * Change feeds on the MariaDB/MySQL binlog (ROW format, full row images):
 * the `openChangeFeed` half of the connector (src/connectors/change-feed.ts).
 *
 * A feed reads the binlog as a replica would, from a transaction boundary,
 * keeps only its table's row events and hands them over in commit order,
 * decoded into canonical values exactly as `scan` reads the same rows
 * (binlog-values.ts). Positions are binlog file + offset of a transaction
 * boundary + the number of the transaction's changes already delivered
 * (binlog-position.ts), so a feed resumed in the middle of a large
 * transaction skips exactly what was seen. Batches hold at most
 * `maxBatchSize` changes; a transaction larger than that is streamed
 * across batches (the reader pauses the socket when the consumer falls
 * behind), never buffered whole. Transactions of other tables move the
 * position only: they give empty batches a consumer can save.
 *
 * MariaDB keeps no state per replica, so nothing is created on the server:
 * `ack` has nothing to release, `dropChangeFeed` nothing to drop, and the
 * binlog files stay as long as the server's expiry allows
 * (binlog_expire_logs_seconds / expire_logs_days). A position in a purged
 * file is POSITION_LOST.
 */
import type { Pool, RowDataPacket } from 'mysql2/promise'
import type { ConnectionOptions } from 'mysql2'
import { SynclineError, throwIfAborted } from '../../errors.js'
import type { Row } from '../../values/canonical.js'
import type { ChangeBatch, ChangeFeed, ChangeFeedOptions, SourceChange } from '../change-feed.js'
import { keyOf, type ConnectionConfig, type ScanOptions } from '../connector.js'
import { keyText } from '../sql/key-rows.js'
import { formatPosition, parsePosition, replicationServerId, type BinlogPosition } from './binlog-position.js'
import { openBinlogReader, type BinlogItem, type BinlogReader, type BinlogTransaction, type RowImage } from './binlog-reader.js'
import { beginSnapshot, type SnapshotSession } from './binlog-snapshot.js'
import { rowsLostBy } from './binlog-statements.js'
import { binlogRowDecoder } from './binlog-values.js'
import { checkServer } from './check.js'
import { classifyMysqlError } from './errors.js'
import type { MyTable } from './introspect.js'
import { poolOptions } from './pool.js'
import type { MyContext } from './source.js'

/** What a feed needs from the connector beyond the source's context. */
export interface FeedContext extends MyContext {
  config: ConnectionConfig
  /** Describe the entity afresh (its columns changed), updating the connector's cache. */
  refresh(entity: string): Promise<MyTable>
  /** `connection 'shop' (127.0.0.1:3306/shop)`, for messages. */
  where: string
}

const CONSUMER = /^[a-z0-9_]{1,40}$/
const DEFAULT_BATCH = 1000
/** While other events keep coming, a batch waits at most this long for more transactions to join it. */
const MAX_BATCH_DELAY_MS = 200
/**
 * Batches that only move the position (other tables' transactions) come at
 * most this often, and when the server falls quiet (its heartbeat): a busy
 * server must not make a consumer save a position per foreign commit.
 */
const POSITION_ONLY_INTERVAL_MS = 1000
/** ER_MASTER_FATAL_ERROR_READING_BINLOG: the file or offset cannot be read (purged, or beyond its end). */
const BINLOG_UNREADABLE = 1236

/** The mysql2 options of the reader's two connections (no pool settings: mysql2 warns about those). */
function readerConnection(config: ConnectionConfig): ConnectionOptions {
  const o = poolOptions(config)
  const picked: ConnectionOptions = { host: o.host, port: o.port, user: o.user, charset: o.charset, connectTimeout: o.connectTimeout, enableKeepAlive: true }
  if (o.password !== undefined) picked.password = o.password
  if (o.socketPath !== undefined) picked.socketPath = o.socketPath
  if (o.ssl !== undefined) picked.ssl = o.ssl
  return picked
}

/** `2026-11-21T10:00:00.000000Z` from an event's timestamp (the binlog keeps whole seconds). */
function commitTime(milliseconds: number): string {
  return `${new Date(milliseconds).toISOString().slice(0, 19)}.000000Z`
}

/** POSITION_LOST unless the server still has `position`'s file and offset. */
async function ensureServable(pool: Pool, position: BinlogPosition, where: string): Promise<void> {
  const [logs] = await pool.query<RowDataPacket[]>('SHOW BINARY LOGS')
  const files = logs.map((l) => ({ name: String(l.Log_name), size: Number(l.File_size) }))
  const file = files.find((f) => f.name === position.file)
  if (file && position.offset <= file.size) return
  const have = files.length > 0 ? `the server has ${files[0]!.name} to ${files[files.length - 1]!.name}` : 'the server has no binlog files'
  const why = file ? `offset ${position.offset} is beyond the end of ${position.file} (${file.size} bytes): the binlog was reset or this is another server` : `binlog file ${position.file} is gone (purged, or the binlog was reset; ${have})`
  throw new SynclineError(
    'POSITION_LOST',
    'config',
    `${where}: cannot resume at ${formatPosition(position)}: ${why}. Start the feed without a position: a realtime sync then compares a fresh snapshot with the destination by key. To keep binlogs longer, raise binlog_expire_logs_seconds (expire_logs_days) on the server.`,
    { details: { position: formatPosition(position) } },
  )
}

/** A SourceChange per row of a rows event. */
function changesOf(
  item: Extract<BinlogItem, { kind: 'rows' }>,
  decode: (image: RowImage) => Row,
  keys: readonly string[],
): Array<Omit<SourceChange, 'position'>> {
  const committedAt = commitTime(item.timestamp)
  const transaction = item.transaction.gtid ?? `${item.transaction.file}:${item.transaction.start}`
  if (item.type === 'update') {
    return (item.rows as Array<{ before: RowImage; after: RowImage }>).map((r) => {
      const before = decode(r.before)
      const record = decode(r.after)
      const key = keyOf(record, keys)
      const previous = keyOf(before, keys)
      return { type: 'update', key, ...(keyText(previous) !== keyText(key) ? { previousKey: previous } : {}), record, before, committedAt, transaction }
    })
  }
  return (item.rows as RowImage[]).map((image) => {
    const row = decode(image)
    const key = keyOf(row, keys)
    return item.type === 'create' ? { type: 'create', key, record: row, committedAt, transaction } : { type: 'delete', key, before: row, committedAt, transaction }
  })
}

/**
 * Open a change feed on a MySQL/MariaDB table (see the file comment).
 * Throws CDC_NOT_READY with the server settings or grants to fix,
 * POSITION_LOST when `from` is no longer in the binlog.
 */
export async function openMysqlChangeFeed(ctx: FeedContext, entity: string, opts: ChangeFeedOptions): Promise<ChangeFeed> {
  throwIfAborted(opts.signal)
  if (!CONSUMER.test(opts.consumer)) {
    throw new SynclineError('PLAN_INVALID', 'config', `${ctx.where}: consumer name '${opts.consumer}' must be 1-40 characters of a-z, 0-9 and _ (e.g. sync_orders).`)
  }
  const maxBatchSize = Math.floor(opts.maxBatchSize ?? DEFAULT_BATCH)
  if (!(maxBatchSize >= 1)) throw new SynclineError('INTERNAL', 'internal', `change feed on '${entity}': maxBatchSize must be at least 1 (got ${opts.maxBatchSize})`)
  const table = await ctx.table(entity)
  const keys = opts.keys ?? table.info.primaryKey
  if (keys.length === 0) {
    throw new SynclineError('KEY_MISSING', 'config', `Entity '${entity}' in ${ctx.where} has no primary key, so its changes cannot be matched to rows: add one (ALTER TABLE … ADD PRIMARY KEY) or name the key fields (keys: in the sync).`)
  }
  for (const key of keys) if (!table.columns.has(key)) throw new SynclineError('FIELD_NOT_FOUND', 'config', `Entity '${entity}' in ${ctx.where} has no key field '${key}'. Fix keys: in the sync.`)

  const pool = ctx.pool()
  let session: SnapshotSession | undefined
  let start: BinlogPosition
  let ownServerId: number
  try {
    const [server, report] = await Promise.all([ctx.server(), checkServer(pool, table.database)])
    if (!report.cdc.ready) throw new SynclineError('CDC_NOT_READY', 'config', `${ctx.where} cannot capture changes of '${entity}' from the binlog: ${report.cdc.reason}`)
    ownServerId = Number(report.details.server_id)
    if (opts.from !== undefined) {
      start = parsePosition(opts.from, ctx.where)
      await ensureServable(pool, start, ctx.where)
    } else {
      session = await beginSnapshot(pool, server)
      start = session.position
    }
  } catch (error) {
    await session?.release()
    throw classifyMysqlError(error, ctx.errorContext(entity))
  }

  const serverId = replicationServerId(opts.consumer, ownServerId)
  const stop = new AbortController()
  const onAbort = () => stop.abort()
  opts.signal?.addEventListener('abort', onAbort, { once: true })
  let iterated = false
  let snapshotRead = false
  let reader: BinlogReader | undefined

  async function* changes(): AsyncGenerator<ChangeBatch> {
    if (iterated) throw new SynclineError('INTERNAL', 'internal', `change feed on '${entity}': changes() can be iterated once`)
    iterated = true
    // The snapshot's read view is not needed once the stream runs.
    await session?.release()
    if (stop.signal.aborted) return
    // Stopping closes the reader, which ends a pending next(). (Not a race with a
    // long-lived "stopped" promise: every race would leave a reaction on it that
    // keeps its item, and so every row read, alive until the feed ends.)
    const closeReader = () => void reader?.close()
    stop.signal.addEventListener('abort', closeReader, { once: true })
    const tables = new Map<number, (image: RowImage) => Row>()
    let decode = binlogRowDecoder(table, keys)
    let pending: SourceChange[] = []
    let lastYielded = formatPosition(start)
    /** The last boundary passed: where a batch that ends now leaves the consumer. */
    let moved = lastYielded
    let lastYieldAt = Date.now()
    let transaction: BinlogTransaction | undefined
    let seen = 0
    try {
      reader = await openBinlogReader({ connection: readerConnection(ctx.config), serverId, file: start.file, offset: start.offset, schema: table.database, table: table.table })
      if (stop.signal.aborted) return
      let next: Promise<BinlogItem> | undefined
      for (;;) {
        if (!next) {
          next = reader.next()
          next.catch(() => undefined)
        }
        // A position-only move waits at most the interval for company, then goes alone.
        const due = pending.length === 0 && moved !== lastYielded ? lastYieldAt + POSITION_ONLY_INTERVAL_MS - Date.now() : undefined
        let timer: NodeJS.Timeout | undefined
        const item = due === undefined ? await next : await Promise.race([next, new Promise<'due'>((resolve) => (timer = setTimeout(() => resolve('due'), Math.max(0, due))))])
        clearTimeout(timer)
        if (item === 'due') {
          yield { changes: [], position: moved }
          lastYielded = moved
          lastYieldAt = Date.now()
          continue
        }
        next = undefined
        if (item.kind === 'table') {
          // A new table id: the table was opened afresh, perhaps after an ALTER TABLE.
          if (!tables.has(item.tableId)) {
            decode = binlogRowDecoder(tables.size === 0 ? table : await ctx.refresh(entity), keys)
            tables.set(item.tableId, decode)
          }
          continue
        }
        if (item.kind === 'rows') {
          const rowDecode = tables.get(item.tableId) ?? decode
          if (transaction?.file !== item.transaction.file || transaction.start !== item.transaction.start) {
            transaction = item.transaction
            seen = 0
          }
          const resumed = transaction.file === start.file && transaction.start === start.offset
          for (const change of changesOf(item, rowDecode, keys)) {
            seen += 1
            if (resumed && seen <= start.seen) continue
            const position = formatPosition({ file: transaction.file, offset: transaction.start, seen })
            pending.push({ ...change, position })
            if (pending.length >= maxBatchSize) {
              yield { changes: pending, position }
              pending = []
              lastYielded = position
              lastYieldAt = Date.now()
            }
          }
          continue
        }
        if (item.kind === 'statement') {
          const lost = rowsLostBy(item.query, item.schema, table.database, table.table)
          if (lost) throw new SynclineError('POSITION_LOST', 'config', `${ctx.where}: ${lost} on '${entity}' at ${formatPosition({ file: item.file, offset: item.offset, seen: 0 })} changed rows without row events in the binlog, so the feed cannot follow it. Start the feed without a position: a realtime sync then compares a fresh snapshot with the destination by key, which applies it there.`)
          continue
        }
        if (item.kind === 'idle') {
          // Quiet: hand over what waits, unless a transaction is still open (its rest is coming).
          if (transaction || (pending.length === 0 && moved === lastYielded)) continue
        } else {
          transaction = undefined
          if (item.file === start.file && item.offset <= start.offset) continue
          moved = formatPosition({ file: item.file, offset: item.offset, seen: 0 })
          const waited = Date.now() - lastYieldAt
          if (pending.length === 0 ? moved === lastYielded || waited < POSITION_ONLY_INTERVAL_MS : reader.buffered > 0 && waited < MAX_BATCH_DELAY_MS) continue
        }
        yield { changes: pending, position: moved }
        pending = []
        lastYielded = moved
        lastYieldAt = Date.now()
      }
    } catch (error) {
      if (stop.signal.aborted) return
      throw binlogError(error)
    } finally {
      stop.signal.removeEventListener('abort', closeReader)
      await reader?.close()
      reader = undefined
    }
  }

  function binlogError(error: unknown): SynclineError {
    const e = error as { errno?: number; message?: string }
    // MariaDB says ER_SLAVE_SAME_ID (4052), MySQL 1236 with this text.
    if (/same server_uuid\/server_id/i.test(e.message ?? '')) {
      return new SynclineError(
        'CONNECTION_LOST',
        'transient',
        `${ctx.where}: the server dropped the binlog reader of '${entity}' because another replica connected with the same server id ${serverId}. syncline picks a new random id on every feed, so run again; if this repeats, another tool reuses ids (check SHOW SLAVE HOSTS).`,
        { cause: error },
      )
    }
    if (/schema changed between binlog event and metadata fetch/.test(e.message ?? '')) {
      return new SynclineError(
        'SCHEMA_DRIFT',
        'config',
        `${ctx.where}: the binlog after ${formatPosition(start)} holds rows of '${entity}' with more columns than the table has now (a column was dropped since), which the current columns cannot decode. Start the feed without a position (a fresh snapshot compared with the destination by key).`,
        { cause: error },
      )
    }
    if (e.errno === BINLOG_UNREADABLE) {
      return new SynclineError(
        'POSITION_LOST',
        'config',
        `${ctx.where}: the server cannot send the binlog from ${formatPosition(start)} for '${entity}': ${e.message}. Start the feed without a position (a fresh snapshot compared with the destination by key); to keep binlogs longer, raise binlog_expire_logs_seconds.`,
        { cause: error },
      )
    }
    return classifyMysqlError(error, ctx.errorContext(entity))
  }

  return {
    start: formatPosition(start),
    snapshot(scan: Omit<ScanOptions, 'cursor' | 'after'>): AsyncIterable<Row[]> {
      if (!session) throw new SynclineError('INTERNAL', 'internal', `change feed on '${entity}': snapshot() is only for a feed opened without a position`)
      if (iterated) throw new SynclineError('INTERNAL', 'internal', `change feed on '${entity}': snapshot() must be read before changes()`)
      if (snapshotRead) throw new SynclineError('INTERNAL', 'internal', `change feed on '${entity}': snapshot() can be read once (its consistent read ends with it)`)
      snapshotRead = true
      return session.scan(table, { ...scan, keys: scan.keys.length > 0 ? scan.keys : keys })
    },
    changes,
    async ack(position: string): Promise<void> {
      // MariaDB/MySQL keep no replica state: nothing to release (binlog expiry decides).
      parsePosition(position, ctx.where)
    },
    async close(): Promise<void> {
      opts.signal?.removeEventListener('abort', onAbort)
      stop.abort()
      await session?.release()
      await reader?.close()
    },
  }
}
