/**
 * A binlog stream of one table behind syncline's own small interface, so
 * the library under it (@vlasky/zongji today) can be replaced.
 *
 * The reader connects as a replica (COM_BINLOG_DUMP from a file and
 * offset), lets through only the table's row events (zongji's
 * `includeSchema`: other tables' table maps and rows are dropped before
 * they are decoded), and turns the events into four kinds of items:
 * `table` (a table map: the table's columns may have changed), `rows`
 * (one row event: up to binlog_row_event_max_size bytes of rows, with the
 * transaction it belongs to) and `boundary` (the stream is outside any
 * transaction at this file and offset: after a commit, a DDL statement or a
 * rotation to the next file; other tables' transactions yield these too,
 * so the position moves on while nothing of the table changes) and
 * `statement` (a statement the binlog keeps as text even in ROW format:
 * DDL, TRUNCATE).
 *
 * Memory stays bounded: items wait in a queue of at most
 * {@link HIGH_WATER} events; beyond that the binlog socket is paused (the
 * server holds the rest) until the consumer has taken half of them.
 */
import ZongJi from '@vlasky/zongji'
import type { ConnectionOptions } from 'mysql2'
import { enumMembers } from './binlog-values.js'

/** Row images as the reader decodes them: column name → value. */
export type RowImage = Record<string, unknown>

/** The transaction an event belongs to: where it starts, and its GTID where the server has one. */
export interface BinlogTransaction {
  file: string
  /** Offset of the boundary just before the transaction. */
  start: number
  /** MariaDB `domain-server-sequence` or MySQL `uuid:n`; absent without GTIDs. */
  gtid?: string
}

/** Something the reader saw. */
export type BinlogItem =
  | { kind: 'table'; tableId: number; schema: string; table: string }
  | { kind: 'rows'; type: 'create' | 'update' | 'delete'; tableId: number; rows: RowImage[] | Array<{ before: RowImage; after: RowImage }>; transaction: BinlogTransaction; timestamp: number }
  | { kind: 'boundary'; file: string; offset: number; timestamp: number }
  /** The server had nothing to send for a while (a heartbeat). */
  | { kind: 'idle' }
  /** A statement logged as text (DDL, TRUNCATE), just before the boundary after it; `schema` is its default database. */
  | { kind: 'statement'; query: string; schema: string; file: string; offset: number }

/** How to open a reader. */
export interface BinlogReaderOptions {
  /** mysql2 connection options of the server (the reader adds its decoding options). */
  connection: ConnectionOptions
  /** Replication server id, unique among the server's replicas. */
  serverId: number
  /** Start here: a transaction boundary. */
  file: string
  offset: number
  /** The one table to read. */
  schema: string
  table: string
  /**
   * The server sends a heartbeat after this many seconds without events;
   * a connection silent for three of them (a network that dropped it without
   * a word) fails with a lost connection. Default 10.
   */
  heartbeatSeconds?: number
}

/** A binlog stream. */
export interface BinlogReader {
  /** The next item, waiting for one; throws the stream's error (the raw driver error: classify it). */
  next(): Promise<BinlogItem>
  /** Items already received and not yet taken. */
  readonly buffered: number
  /** Stop reading and close both connections. */
  close(): Promise<void>
}

/** Items queued before the socket is paused. */
const HIGH_WATER = 64
const DEFAULT_HEARTBEAT_SECONDS = 10

/** zongji's event objects, as far as the reader reads them. */
interface ZongjiEvent {
  getTypeName(): string
  nextPosition: number
  timestamp: number
  gtid?: string
  tableId?: number
  schemaName?: string
  tableName?: string
  binlogName?: string
  position?: number
  query?: string
  schema?: string
  rows?: RowImage[] | Array<{ before: RowImage; after: RowImage }>
}

interface ColumnSchemaRow {
  COLUMN_TYPE: string
  ENUM_VALUES?: string[]
  SET_VALUES?: string[]
}

interface MysqlConnectionLike {
  pause(): void
  resume(): void
  query(sql: string, callback: (error: unknown) => void): void
  stream?: { on(event: 'data', listener: () => void): unknown }
  on(event: string, listener: (...args: unknown[]) => void): unknown
}

/**
 * zongji with the ENUM/SET member lists parsed correctly: its own parser
 * splits `enum('a,b')` at the comma. The member lists are what the
 * binlog's member numbers index.
 */
class TableZongJi extends ZongJi {
  constructor(dsn: ConnectionOptions) {
    super(dsn)
    // zongji fetches a table's columns in this (internal) method; wrap it to fix the member lists.
    const self = this as unknown as { _fetchTableInfo(event: { tableId: number }, next: () => void): void }
    const fetch = self._fetchTableInfo.bind(this)
    self._fetchTableInfo = (event, next) =>
      fetch(event, () => {
        for (const schema of (this.tableMap[event.tableId]?.columnSchemas ?? []) as ColumnSchemaRow[]) {
          const members = enumMembers(schema.COLUMN_TYPE)
          if (!members) continue
          if (/^enum/i.test(schema.COLUMN_TYPE)) schema.ENUM_VALUES = members
          else schema.SET_VALUES = members
        }
        next()
      })
  }
}

const ROWS_TYPES: Record<string, 'create' | 'update' | 'delete'> = { WriteRows: 'create', UpdateRows: 'update', DeleteRows: 'delete' }

/**
 * Start reading the binlog of one table from a boundary. Resolves once
 * the dump is requested; events then arrive through `next`.
 */
export async function openBinlogReader(options: BinlogReaderOptions): Promise<BinlogReader> {
  const queue: BinlogItem[] = []
  let failure: unknown
  let wake: (() => void) | undefined
  let stopped = false
  let paused = false
  const heartbeat = options.heartbeatSeconds ?? DEFAULT_HEARTBEAT_SECONDS
  let lastActivity = Date.now()
  let liveness: NodeJS.Timeout | undefined

  // The position bookkeeping is the reader's own: zongji's resume position
  // is for zongji's consumers and stays frozen inside transactions.
  let file = options.file
  let safe = options.offset
  let transaction: BinlogTransaction | undefined

  const zongji = new TableZongJi({
    ...options.connection,
    // Exact values in the text protocol's forms; see binlog-values.ts.
    dateStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: false,
    decimalNumbers: false,
    jsonStrings: true,
    timezone: 'Z',
  } as ConnectionOptions)
  const connection = () => zongji.connection as unknown as MysqlConnectionLike | null

  const notify = () => {
    const w = wake
    wake = undefined
    w?.()
  }
  const push = (item: BinlogItem) => {
    queue.push(item)
    if (queue.length >= HIGH_WATER && !paused) {
      paused = true
      connection()?.pause()
    } else if (paused) {
      // zongji resumes the socket itself after fetching a table's columns; keep it paused.
      connection()?.pause()
    }
    notify()
  }
  const fail = (error: unknown) => {
    if (stopped || failure !== undefined) return
    failure = error
    notify()
  }
  const begin = (gtid?: string) => {
    if (transaction) return
    transaction = { file, start: safe, ...(gtid ? { gtid } : {}) }
  }
  const end = (event: ZongjiEvent) => {
    transaction = undefined
    if (event.nextPosition > safe) safe = event.nextPosition
    push({ kind: 'boundary', file, offset: safe, timestamp: event.timestamp })
  }

  zongji.on('binlog', (raw: unknown) => {
    const event = raw as ZongjiEvent
    const type = event.getTypeName()
    switch (type) {
      case 'Rotate':
        file = event.binlogName!
        safe = event.position!
        transaction = undefined
        push({ kind: 'boundary', file, offset: safe, timestamp: event.timestamp })
        return
      case 'MariadbGtid':
      case 'Gtid':
      case 'AnonymousGtid':
        transaction = undefined
        begin(typeof event.gtid === 'string' ? event.gtid : undefined)
        return
      case 'TableMap':
        begin(event.gtid)
        push({ kind: 'table', tableId: event.tableId!, schema: event.schemaName!, table: event.tableName! })
        return
      case 'WriteRows':
      case 'UpdateRows':
      case 'DeleteRows':
        begin(event.gtid)
        push({ kind: 'rows', type: ROWS_TYPES[type]!, tableId: event.tableId!, rows: event.rows ?? [], transaction: transaction!, timestamp: event.timestamp })
        return
      case 'Heartbeat':
        // Liveness (see the timer) and quiet; its offset is the server's, not a boundary the reader saw.
        push({ kind: 'idle' })
        return
      case 'Xid':
      case 'XaPrepare':
        end(event)
        return
      case 'Query': {
        const query = (event.query ?? '').trim().toUpperCase()
        if (query === 'BEGIN' || query.startsWith('XA START') || query.startsWith('XA END') || query.startsWith('SAVEPOINT')) {
          begin(event.gtid)
          return
        }
        if (query !== 'COMMIT' && query !== 'ROLLBACK' && !query.startsWith('XA ')) {
          push({ kind: 'statement', query: event.query ?? '', schema: event.schema ?? '', file, offset: transaction?.start ?? safe })
        }
        end(event)
        return
      }
      default:
        // Format descriptions, GTID lists, checkpoints: outside a
        // transaction they only move the boundary (the artificial ones at
        // the dump's start carry offset 0 and move nothing).
        if (!transaction && event.nextPosition > safe) safe = event.nextPosition
    }
  })
  zongji.on('error', fail)

  await new Promise<void>((resolve, reject) => {
    const onError = (error: unknown) => reject(error)
    zongji.once('ready', () => {
      zongji.off('error', onError)
      // The control connection (table columns, the KILL on stop) idles between table maps:
      // keep wait_timeout from closing it under a feed that waits for hours.
      ;(zongji.ctrlConnection as unknown as { query(sql: string, cb: (error: unknown) => void): void } | null)?.query('SET SESSION wait_timeout = 31536000', () => undefined)
      const binlog = connection()
      // Queued before the dump command (zongji adds it right after 'ready'): while the
      // consumer is slow the socket stays paused, and the server would end the dump
      // after net_write_timeout (60 s by default) of a blocked write. The heartbeat
      // period (in nanoseconds) makes an idle server speak, so silence means a dead link.
      binlog?.query('SET SESSION net_write_timeout = 86400', () => undefined)
      binlog?.query(`SET @master_heartbeat_period = ${heartbeat * 1_000_000_000}`, () => undefined)
      binlog?.stream?.on('data', () => (lastActivity = Date.now()))
      liveness = setInterval(() => {
        // Paused by the reader: the server is not silent, the reader is not listening.
        if (paused) lastActivity = Date.now()
        else if (Date.now() - lastActivity > 3 * heartbeat * 1000 + 500) {
          fail(Object.assign(new Error(`no binlog event nor heartbeat for ${3 * heartbeat} s: the connection is dead`), { code: 'PROTOCOL_CONNECTION_LOST', fatal: true }))
        }
      }, Math.min(5000, heartbeat * 1000))
      liveness.unref()
      // A server that ends the dump without an error (shutdown) must not leave the reader waiting forever.
      binlog?.on('end', () => fail(Object.assign(new Error('the server closed the binlog connection'), { code: 'PROTOCOL_CONNECTION_LOST', fatal: true })))
      resolve()
    })
    zongji.once('error', onError)
    zongji.start({
      serverId: options.serverId,
      filename: options.file,
      position: options.offset,
      includeSchema: { [options.schema]: [options.table] },
      // Everything else zongji reads is needed for the boundaries (commits, GTIDs, rotations).
      excludeEvents: ['unknown', 'intvar', 'rand', 'uservar', 'annotaterows', 'rowsquery'],
    })
  }).catch(async (error: unknown) => {
    await stop()
    throw error
  })

  async function stop(): Promise<void> {
    if (stopped) return
    stopped = true
    clearInterval(liveness)
    notify()
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 2000)
      zongji.once('stopped', () => {
        clearTimeout(timer)
        resolve()
      })
      zongji.stop()
    })
  }

  return {
    get buffered() {
      return queue.length
    },
    async next() {
      for (;;) {
        const item = queue.shift()
        if (item) {
          if (paused && queue.length <= HIGH_WATER / 2) {
            paused = false
            connection()?.resume()
          }
          return item
        }
        if (failure !== undefined) throw failure
        if (stopped) throw new Error('the binlog reader was closed')
        await new Promise<void>((resolve) => {
          wake = resolve
        })
      }
    },
    close: stop,
  }
}
