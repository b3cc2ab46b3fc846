/**
 * Reading from MySQL: ordered scans, counts and key lookups.
 *
 * A scan is one prepared SELECT whose rows stream over a held connection,
 * `batchSize` at a time: the socket is paused while two batches wait for
 * the caller and resumed as it takes them, so memory stays bounded by the
 * batch size whatever the table size. One statement is one consistent
 * InnoDB read, and the table is sorted at most once (ordering text keys by
 * a binary collation cannot use an index in another collation; keyset pages
 * with LIMIT would sort the whole table again for every page). A scan the
 * caller abandons closes its connection: MySQL cannot stop a result set
 * mid-way other than by dropping the connection.
 */
import type { Pool, RowDataPacket } from 'mysql2/promise'
import { NotFoundError, RecordError, SynclineError, didYouMean, throwIfAborted } from '../../errors.js'
import type { KeyValues, Row, Value } from '../../values/canonical.js'
import type { Filter, ScanOptions } from '../connector.js'
import { ParamList, cursorCondition, filterCondition, keysetCondition, orderBy, where } from '../sql/sql-builder.js'
import { DecodeProblem, decodeDateTime, encodeParam } from './codec.js'
import { quoteIdent } from './dialect.js'
import { classifyMysqlError, isConnectionBroken, type ErrorContext } from './errors.js'
import type { MyColumn, MyTable } from './introspect.js'
import { holdConnection, type HeldConnection } from './pool.js'
import type { ServerInfo } from './server.js'

/** What the source and sink functions need from the connector. */
export interface MyContext {
  /** The pool (created on first use). */
  pool(): Pool
  /** Facts about the server (read once). */
  server(): Promise<ServerInfo>
  /** The entity's catalog details (cached); throws ENTITY_NOT_FOUND. */
  table(entity: string): Promise<MyTable>
  /** Context for error messages. */
  errorContext(entity?: string): ErrorContext
}

/** The column of a field, or FIELD_NOT_FOUND naming the closest one. */
export function columnOf(table: MyTable, name: string): MyColumn {
  const column = table.columns.get(name)
  if (column) return column
  throw new NotFoundError(
    'FIELD_NOT_FOUND',
    'config',
    `Entity '${table.info.name}' has no field '${name}'.${didYouMean(name, table.columns.keys())} Check the field names in the plan (they are case-sensitive).`,
    { details: { entity: table.info.name, field: name } },
  )
}

/** `` `a`, ST_AsText(`g`) AS `g` ``: the SELECT list for fields. */
export function selectList(table: MyTable, names: readonly string[], alias = ''): string {
  return names
    .map((n) => {
      const column = columnOf(table, n)
      const ref = alias ? `${alias}.${quoteIdent(n)}` : quoteIdent(n)
      return column.read === quoteIdent(n) ? ref : `${column.read.replace(quoteIdent(n), ref)} AS ${quoteIdent(n)}`
    })
    .join(', ')
}

/** A printable key for messages: `id=3, name="x"`. */
export function describeKey(keys: readonly string[], row: Row): string {
  return keys.map((k) => `${k}=${formatValue(row[k] ?? null)}`).join(', ')
}

/** A value as a message shows it. */
export function formatValue(value: Value): string {
  if (value instanceof Uint8Array) return `0x${Buffer.from(value).toString('hex')}`
  if (typeof value === 'bigint') return value.toString()
  return typeof value === 'string' ? JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value) : String(value)
}

/**
 * A function that turns driver rows into canonical rows in place. A value
 * the canonical model cannot hold (a TIME beyond 24 hours, a zero date) is
 * a RecordError naming the entity, the record's key and the field.
 */
export function rowDecoder(table: MyTable, names: readonly string[], keys: readonly string[]): (rows: Row[]) => Row[] {
  const decoders = names.flatMap((n) => {
    const decode = columnOf(table, n).decode
    return decode ? [[n, decode] as const] : []
  })
  if (decoders.length === 0) return (rows) => rows
  return (rows) => {
    for (const row of rows) {
      for (const [name, decode] of decoders) {
        const value = row[name]
        if (value === null || value === undefined) continue
        try {
          row[name] = decode(value)
        } catch (error) {
          if (!(error instanceof DecodeProblem)) throw error
          throw new RecordError(
            'VALUE_REJECTED',
            'data',
            `Entity '${table.info.name}' has a record (${describeKey(keys, row)}) whose field ${name} (${columnOf(table, name).field.nativeType}) cannot be read exactly: ${error.message}. Fix the value in the table, or leave the field out of the mapping.`,
            { cause: error, details: { entity: table.info.name, field: name } },
          )
        }
      }
    }
    return rows
  }
}

/** The SELECT of a scan, with its parameters. */
export function scanQuery(table: MyTable, opts: Omit<ScanOptions, 'batchSize' | 'signal'>): { sql: string; params: unknown[]; names: string[] } {
  const names = [...new Set([...opts.fields, ...opts.keys, ...(opts.cursor ? [opts.cursor.field] : [])])]
  for (const name of [...names, ...(opts.filters ?? []).map((f) => f.field)]) columnOf(table, name)
  const params = new ParamList(table.dialect)
  const conditions = [filterCondition(table.dialect, table.fields, opts.filters ?? [], params)]
  if (opts.cursor) conditions.push(cursorCondition(table.dialect, table.fields, opts.keys, opts.cursor, params))
  else if (opts.after) conditions.push(keysetCondition(table.dialect, table.fields, opts.keys, opts.after, params))
  const order = orderBy(table.dialect, table.fields, opts.keys, opts.cursor?.field)
  const sql = `SELECT ${selectList(table, names)} FROM ${table.sql} ${where(conditions)} ${order}`
  return { sql, params: params.values, names }
}

/** The core (callback) connection under a promise one: what streams rows. */
interface CoreConnection {
  execute(sql: string, values: unknown[]): CoreCommand
  pause(): void
  resume(): void
}

interface CoreCommand {
  on(event: 'result', listener: (row: Row) => void): this
  on(event: 'end', listener: () => void): this
  on(event: 'error', listener: (error: unknown) => void): this
}

/**
 * Rows of one streaming statement, gathered into batches. The connection
 * is paused while {@link BATCHES_AHEAD} batches wait, so one is always
 * ready when the caller asks and memory stays bounded.
 */
class BatchStream {
  #ready: Row[][] = []
  #current: Row[] = []
  #ended = false
  #error: unknown
  #wake: (() => void) | undefined

  constructor(
    private readonly connection: CoreConnection,
    command: CoreCommand,
    private readonly batchSize: number,
  ) {
    command.on('result', (row) => {
      this.#current.push(row)
      if (this.#current.length < this.batchSize) return
      this.#ready.push(this.#current)
      this.#current = []
      if (this.#ready.length >= BATCHES_AHEAD) this.connection.pause()
      this.#notify()
    })
    command.on('end', () => {
      if (this.#current.length > 0) this.#ready.push(this.#current)
      this.#current = []
      this.#ended = true
      this.#notify()
    })
    command.on('error', (error) => {
      this.#error = error
      this.#ended = true
      this.#notify()
    })
  }

  #notify(): void {
    const wake = this.#wake
    this.#wake = undefined
    wake?.()
  }

  /** Whether the statement has ended (all rows received, or failed). */
  get ended(): boolean {
    return this.#ended
  }

  /** The next batch, or undefined after the last. */
  async next(): Promise<Row[] | undefined> {
    for (;;) {
      const batch = this.#ready.shift()
      if (batch) {
        if (this.#ready.length < BATCHES_AHEAD && !this.#ended) this.connection.resume()
        return batch
      }
      if (this.#error !== undefined) throw this.#error
      if (this.#ended) return undefined
      await new Promise<void>((resolve) => {
        this.#wake = resolve
      })
    }
  }
}

/** Batches read ahead of the caller before the socket is paused. */
const BATCHES_AHEAD = 2

/**
 * Scan an entity in key order (or `(cursor, key)` order), `batchSize` rows
 * per yielded batch. The connection goes back to the pool when the scan
 * ran to its end, and is closed when the loop breaks or throws; the signal
 * is checked between batches.
 */
export async function* scanRows(ctx: MyContext, entity: string, opts: ScanOptions): AsyncGenerator<Row[]> {
  throwIfAborted(opts.signal)
  if (!(opts.batchSize >= 1)) throw new SynclineError('INTERNAL', 'internal', `scan of '${entity}': batchSize must be at least 1 (got ${opts.batchSize})`)
  const table = await ctx.table(entity)
  const { sql, params, names } = scanQuery(table, opts)
  const decode = rowDecoder(table, names, opts.keys)
  let held: HeldConnection | undefined
  let stream: BatchStream | undefined
  let failure: unknown
  try {
    held = await holdConnection(ctx.pool())
    const core = (held.connection as unknown as { connection: CoreConnection }).connection
    stream = new BatchStream(core, core.execute(sql, params), Math.floor(opts.batchSize))
    for (;;) {
      const rows = await stream.next()
      if (!rows) break
      yield decode(rows)
      throwIfAborted(opts.signal)
    }
  } catch (error) {
    failure = error
    throw classifyMysqlError(error, ctx.errorContext(table.info.name))
  } finally {
    // An unfinished result set can only be stopped by closing its connection.
    held?.release(!stream?.ended || (failure !== undefined && isConnectionBroken(failure)))
  }
}

/** Rows matching the filters. */
export async function countRows(ctx: MyContext, entity: string, filters: readonly Filter[] = []): Promise<number> {
  const table = await ctx.table(entity)
  for (const filter of filters) columnOf(table, filter.field)
  const params = new ParamList(table.dialect)
  const condition = where([filterCondition(table.dialect, table.fields, filters, params)])
  try {
    const [rows] = await ctx.pool().execute<RowDataPacket[]>(`SELECT COUNT(*) AS count FROM ${table.sql} ${condition}`, params.values)
    return Number(rows[0]?.count ?? 0)
  } catch (error) {
    throw classifyMysqlError(error, ctx.errorContext(table.info.name))
  }
}

/** Keys per lookup or delete statement: well below the 65,535 placeholders a statement may have. */
export const KEYS_PER_STATEMENT = 1_000

/**
 * `k IN (?, ?)` for one key field, `(a = ? AND b = ?) OR …` for several:
 * the condition matching these keys, its parameters added to `params`.
 */
export function keysCondition(table: MyTable, keys: readonly string[], values: readonly KeyValues[], params: unknown[], alias = ''): string {
  const columns = keys.map((k) => columnOf(table, k))
  const ref = (k: string) => (alias ? `${alias}.${quoteIdent(k)}` : quoteIdent(k))
  if (keys.length === 1) {
    const field = columns[0]!.field
    for (const key of values) params.push(encodeParam(key[0] ?? null, field))
    return `${ref(keys[0]!)} IN (${values.map(() => '?').join(', ')})`
  }
  const one = `(${keys.map((k) => `${ref(k)} = ?`).join(' AND ')})`
  for (const key of values) columns.forEach((c, i) => params.push(encodeParam(key[i] ?? null, c.field)))
  return values.map(() => one).join(' OR ')
}

/** A text key for a row's key values, equal for equal canonical keys. */
export function keyText(values: KeyValues): string {
  let out = ''
  for (const v of values) out += (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : String(v)) + '\u0000'
  return out
}

/** The rows with these keys; keys that do not exist are simply absent. */
export async function lookupRows(ctx: MyContext, entity: string, keys: readonly string[], values: readonly KeyValues[], fields: readonly string[], signal?: AbortSignal): Promise<Row[]> {
  throwIfAborted(signal)
  if (values.length === 0) return []
  const table = await ctx.table(entity)
  const names = [...new Set([...keys, ...fields])]
  const decode = rowDecoder(table, names, keys)
  const out: Row[] = []
  try {
    for (let i = 0; i < values.length; i += KEYS_PER_STATEMENT) {
      const params: unknown[] = []
      const condition = keysCondition(table, keys, values.slice(i, i + KEYS_PER_STATEMENT), params)
      const [rows] = await ctx.pool().execute<RowDataPacket[]>(`SELECT ${selectList(table, names)} FROM ${table.sql} WHERE ${condition}`, params)
      out.push(...decode(rows as Row[]))
      throwIfAborted(signal)
    }
  } catch (error) {
    throw classifyMysqlError(error, ctx.errorContext(table.info.name))
  }
  // A case-insensitive (or PAD SPACE) key column matches 'A' for 'a': keep exact matches only.
  if (!keys.some((k) => columnOf(table, k).mergesKeys)) return out
  const wanted = new Set(values.map(keyText))
  return out.filter((row) => wanted.has(keyText(keys.map((k) => row[k] ?? null))))
}

/**
 * Start of the oldest InnoDB transaction still open on another connection
 * that may write (read-only transactions and single autocommit SELECTs,
 * syncline's own scans among them, are left out: they never commit rows).
 * Needs the PROCESS privilege; without it the server cannot tell, and the
 * result is undefined (rely on the look-back window then).
 */
export async function oldestOpenTransactionStart(ctx: MyContext): Promise<string | undefined> {
  try {
    const [rows] = await ctx.pool().query<RowDataPacket[]>(
      `SELECT MIN(trx_started) AS start FROM information_schema.INNODB_TRX
        WHERE trx_mysql_thread_id <> CONNECTION_ID() AND trx_is_read_only = 0 AND trx_autocommit_non_locking = 0`,
    )
    const start = rows[0]?.start as string | null | undefined
    return start ? decodeDateTime(start) : undefined
  } catch (error) {
    if ((error as { code?: string }).code === 'ER_SPECIFIC_ACCESS_DENIED_ERROR') return undefined
    throw classifyMysqlError(error, ctx.errorContext())
  }
}
