/**
 * The bulk path between PostgreSQL databases: `COPY (SELECT …) TO STDOUT`
 * piped into `COPY … FROM STDIN`, without decoding a row. Binary format when
 * every destination column has the source column's type (the same bytes
 * mean the same value, and binary is cheaper for both servers to write and
 * parse: numbers and timestamps are not printed and re-read), COPY text
 * otherwise (and from SQLite and MariaDB, which write only text).
 *
 * It is taken only where the text COPY writes means exactly what the row
 * path would write: the source types below (whose text output is their
 * canonical value, sessions run in UTC with extra_float_digits = 3) and
 * destination columns that hold every value of the source column without
 * rounding, padding or cutting. Anything else returns undefined and the
 * engine reads row by row.
 */
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import copyStreams from 'pg-copy-streams'
import { throwIfAborted } from '../../errors.js'
import type { FieldInfo, Row } from '../../values/canonical.js'
import { COPY_TEXT_FORMAT } from '../../values/copy-text.js'
import { COPY_BINARY_FORMAT, CopyBinaryRowCounter } from './copy-binary.js'
import type pg from 'pg'
import type { BulkExport, BulkExportOptions, BulkImportOptions } from '../connector.js'
import { classifyPgError } from './errors.js'
import { quoteIdent } from './dialect.js'
import { copyOutStream } from './copy-out.js'
import { copyInFrames, copyOutFrames, type CopyFrames } from './copy-relay.js'
import { holdClient } from './pool.js'
import { beginWriting } from './foreign-keys.js'
import { dropKeyForLoad, restoreKey } from './deferred-key.js'
import { advanceSequencesToTable } from './sequences.js'
import { columnOf } from '../sql/key-rows.js'
import { SCAN_APPLICATION_NAME, type PgContext } from './source.js'
import type { PgTable } from './introspect.js'

/**
 * A PostgreSQL export's COPY as it comes off the wire, for an import into
 * PostgreSQL to relay unchanged (copy-relay.ts) instead of reading the
 * export's `stream`: the same bytes, without a copy of them in Node.
 */
const relayableCopies = new WeakMap<BulkExport, () => AsyncGenerator<CopyFrames>>()

/** The formats this connector reads and writes, the one it prefers first. */
export const PG_BULK_FORMATS: readonly string[] = [COPY_BINARY_FORMAT, COPY_TEXT_FORMAT]

/** Source types whose COPY text is exactly their canonical value when read back. */
const EXPORTABLE = new Set([
  'smallint',
  'integer',
  'bigint',
  'numeric',
  'double precision',
  'real',
  'text',
  'character varying',
  'boolean',
  'date',
  'time without time zone',
  'timestamp with time zone',
  'timestamp without time zone',
  'uuid',
  'bytea',
  'json',
  'jsonb',
])

/** `numeric(12,2)` → `numeric`; arrays keep their `[]` (see {@link exportable}). */
function baseType(field: FieldInfo): string {
  return field.nativeType.replace(/\(.*\)/, '').trim()
}

/** The most decimal digits an integer of the field's width has (`bits` + sign: 64 signed → 19, 64 unsigned → 20). */
function integerDigits(field: FieldInfo): number {
  const bits = (field.bits ?? 64) - (field.unsigned === true ? 0 : 1)
  return String(2n ** BigInt(bits)).length
}

/**
 * Whether a field's COPY text is its canonical value when read back: the
 * types above, and one-dimensional arrays of them (`text[]`, `bigint[]`),
 * whose array text the destination reads as the same array.
 */
function exportable(field: FieldInfo): boolean {
  const base = baseType(field)
  if (field.type === 'array') return base.endsWith('[]') && EXPORTABLE.has(base.slice(0, -2))
  return EXPORTABLE.has(base)
}

/** Whether `target` holds every value of `source` exactly, as COPY text. */
export function holdsExactly(target: FieldInfo, source: FieldInfo): boolean {
  const to = baseType(target)
  if (!exportable(target)) return false
  // An integer's text is a valid numeric: BIGINT UNSIGNED lands in numeric(20).
  if (target.type === 'decimal' && source.type === 'integer') return target.precision === undefined || target.precision - (target.scale ?? 0) >= integerDigits(source)
  if (target.type !== source.type) return false
  switch (target.type) {
    case 'array':
      // Element limits (varchar(n)[], numeric(p,s)[]) are not checked element by element: only the same array type holds exactly.
      return target.nativeType === source.nativeType
    // Widths from discover (FieldInfo.bits); a source that states none may hold any int64 or double.
    case 'integer':
      return (target.bits ?? 64) >= (source.bits ?? 64) + (source.unsigned === true ? 1 : 0)
    case 'float':
      return (target.bits ?? 64) >= (source.bits ?? 64)
    case 'decimal':
      if (target.precision === undefined) return true
      if (source.precision === undefined) return false
      return (target.scale ?? 0) >= (source.scale ?? 0) && target.precision - (target.scale ?? 0) >= source.precision - (source.scale ?? 0)
    case 'text':
      return target.maxLength === undefined || (source.maxLength !== undefined && source.maxLength <= target.maxLength)
    case 'time':
      return to === 'time without time zone'
    default:
      return true
  }
}

/** Whether binary COPY carries `source` into `target`: the same base type (binary input still applies the target's length and scale, as text input does). */
function sameBinaryType(target: FieldInfo, source: FieldInfo): boolean {
  return baseType(target) === baseType(source)
}

/**
 * Stream the fields of an entity as COPY text or binary (`opts.format`), or
 * undefined when one has no exact text form. With `highest`, the greatest `(cursor, key)` is read first
 * in the same REPEATABLE READ snapshot as the COPY.
 */
export async function bulkExport(ctx: PgContext, entity: string, opts: BulkExportOptions): Promise<BulkExport | undefined> {
  throwIfAborted(opts.signal)
  if (!PG_BULK_FORMATS.includes(opts.format)) return undefined
  const table = await ctx.table(entity)
  const infos = opts.fields.map((f) => table.fields.get(f))
  if (infos.some((f) => f === undefined || !exportable(f))) return undefined
  const held = await holdClient(ctx.pool())
  let inTransaction = false
  try {
    let highest: Row | null | undefined
    if (opts.highest) {
      await held.client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
      inTransaction = true
      await held.client.query(`SET LOCAL application_name = '${SCAN_APPLICATION_NAME}'`)
      highest = await highestRow(held.client, table, opts.highest.cursor, opts.highest.keys)
    }
    const sql = `COPY (SELECT ${opts.fields.map(quoteIdent).join(', ')} FROM ${table.sql}) TO STDOUT${copyOptions(opts.format)}`
    // Both start the COPY when first read; an import reads one of them.
    const stream = copyOutStream(held.client, sql)
    let relayed = false
    async function* frames(): AsyncGenerator<CopyFrames> {
      yield* copyOutFrames(held.client, sql)
      relayed = true
    }
    let closed = false
    const exported: BulkExport = {
      format: opts.format,
      fields: infos as FieldInfo[],
      stream,
      close: async () => {
        if (closed) return
        closed = true
        // An unfinished COPY leaves the connection mid-protocol: destroy it,
        // and swallow the errors its end raises on the stream and client.
        let finished = stream.readableEnded || relayed
        if (!finished) {
          const ignore = () => undefined
          stream.on('error', ignore)
          held.client.on('error', ignore)
          stream.destroy()
        } else if (inTransaction) {
          finished = await held.client.query('COMMIT').then(
            () => true,
            () => false,
          )
        }
        held.release(!finished)
      },
    }
    if (highest !== undefined) exported.highest = highest
    relayableCopies.set(exported, frames)
    return exported
  } catch (error) {
    held.release(true)
    throw classifyPgError(error, ctx.errorContext(table.info.name))
  }
}

/** The row with the greatest (cursor, key) whose cursor is not NULL, in key byte order. */
async function highestRow(client: pg.PoolClient, table: PgTable, cursor: string, keys: readonly string[]): Promise<Row | null> {
  const names = [cursor, ...keys.filter((k) => k !== cursor)]
  const order = [cursor, ...keys].map((n) => `${quoteIdent(n)}${columnOf(table, n).orderSuffix} DESC`)
  const result = await client.query<Row>(`SELECT ${names.map(quoteIdent).join(', ')} FROM ${table.sql} WHERE ${quoteIdent(cursor)} IS NOT NULL ORDER BY ${order.join(', ')} LIMIT 1`)
  return result.rows[0] ?? null
}

/** The option list of a COPY in this format. */
function copyOptions(format: string): string {
  return format === COPY_BINARY_FORMAT ? ' (FORMAT binary)' : ''
}

/** Counts rows (one newline each in COPY text, framed rows in binary) as the bytes pass. */
function rowCounter(format: string, onRows: ((rows: number) => void) | undefined): Transform & { rows: number } {
  const binary = format === COPY_BINARY_FORMAT ? new CopyBinaryRowCounter() : undefined
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      if (binary) {
        binary.add(chunk)
        counter.rows = binary.rows
      } else {
        let at = chunk.indexOf(10)
        while (at !== -1) {
          counter.rows++
          at = chunk.indexOf(10, at + 1)
        }
      }
      onRows?.(counter.rows)
      done(null, chunk)
    },
  }) as Transform & { rows: number }
  counter.rows = 0
  return counter
}

/** Run `copy` (a COPY … FROM STDIN) with the export's data; the rows the server wrote. */
async function copyIn(client: pg.PoolClient, copy: string, data: BulkExport, opts: BulkImportOptions): Promise<number> {
  const frames = relayableCopies.get(data)
  if (frames) {
    // One CopyData message a row, but the binary format's trailer has its own: the count may run one ahead until the server's.
    const onMessages = opts.onRows
    return await copyInFrames(client, copy, frames(), { ...(opts.signal ? { signal: opts.signal } : {}), ...(onMessages ? { onMessages } : {}) })
  }
  const sink = client.query(copyStreams.from(copy))
  const streamOptions = opts.signal ? { signal: opts.signal } : {}
  if (data.rows === undefined) {
    await pipeline(data.stream, rowCounter(data.format, opts.onRows), sink, streamOptions)
  } else {
    // The exporter counts its rows: no second pass over the bytes.
    const onRows = opts.onRows
    if (onRows) data.stream.on('data', () => onRows(data.rows!))
    await pipeline(data.stream, sink, streamOptions)
  }
  return sink.rowCount
}

/**
 * Load a COPY text or binary export in one transaction. Undefined (nothing
 * written, the stream not read) when a column cannot hold its source exactly
 * or, for binary, has another type than its source; a rejected value throws
 * the classified error after rolling back.
 */
export async function bulkImport(ctx: PgContext, entity: string, data: BulkExport, opts: BulkImportOptions): Promise<number | undefined> {
  throwIfAborted(opts.signal)
  if (!PG_BULK_FORMATS.includes(data.format)) return undefined
  const table = await ctx.table(entity)
  const targets = opts.columns.map((c) => table.fields.get(c))
  const binary = data.format === COPY_BINARY_FORMAT
  const carries = (target: FieldInfo | undefined, source: FieldInfo) => target !== undefined && holdsExactly(target, source) && (!binary || sameBinaryType(target, source))
  if (!table.writable || targets.some((t, i) => !carries(t, data.fields[i]!))) return undefined

  const held = await holdClient(ctx.pool())
  let broken = false
  try {
    const { client } = held
    await beginWriting(client, table, ctx.errorContext().endpoint.user, opts.foreignKeyChecks)
    const copy = `COPY ${table.sql} (${opts.columns.map(quoteIdent).join(', ')}) FROM STDIN${copyOptions(data.format)}`
    const deferredKey = opts.createdByRun === true ? await dropKeyForLoad(client, table) : undefined
    // The server's count of the rows COPY wrote.
    const rows = await copyIn(client, copy, data, opts)
    if (deferredKey) await restoreKey(client, table, deferredKey)
    await advanceSequencesToTable(client, table, opts.columns)
    await client.query('COMMIT')
    return rows
  } catch (error) {
    // Only an error the server reported leaves the protocol in a known state;
    // after anything else (the source stream failed mid-COPY) the connection
    // is not reused.
    broken = held.lost !== undefined || !(error instanceof Error && 'severity' in error)
    if (!broken) {
      await held.client.query('ROLLBACK').catch(() => {
        broken = true
      })
    }
    throwIfAborted(opts.signal)
    throw classifyPgError(error, ctx.errorContext(table.info.name))
  } finally {
    held.release(broken)
  }
}
