/**
 * Bulk export of a MySQL table as COPY text (`postgres-copy-text`), for a
 * first full copy into PostgreSQL without the row-by-row engine.
 *
 * The rows stream from one SELECT (text protocol, no ORDER BY: an empty
 * destination needs no merge), are decoded into canonical values exactly
 * as the row path decodes them, and are written as COPY text. A value the
 * canonical model cannot take (a TIME beyond 24 hours, a zero date) ends
 * the export with a data error; the engine then copies row by row and
 * reports that record. The destination decides whether its columns hold
 * the source's values exactly, from the exported fields' types and limits.
 */
import { Readable } from 'node:stream'
import { throwIfAborted } from '../../errors.js'
import type { FieldInfo } from '../../values/canonical.js'
import { COPY_TEXT_FORMAT, encodeCopyText } from '../../values/copy-text.js'
import type { BulkExport, BulkExportOptions } from '../connector.js'
import { highestTracker } from '../highest-tracker.js'
import { classifyMysqlError } from './errors.js'
import { holdConnection } from './pool.js'
import { columnOf } from '../sql/key-rows.js'
import { endRowStream, openRowStream, rowDecoder, selectList, type MyContext } from './source.js'

/** The formats this connector exports. */
export const MYSQL_BULK_FORMATS = [COPY_TEXT_FORMAT] as const

/** Rows per chunk of the stream (and per batch read from the server). */
const ROWS_PER_CHUNK = 2_000

/**
 * Stream the fields of an entity as COPY text. With `highest`, the greatest
 * `(cursor, key)` is tracked over the decoded rows of the same statement
 * (one consistent read), reading cursor and key columns the export does not carry.
 */
export async function bulkExport(ctx: MyContext, entity: string, opts: BulkExportOptions): Promise<BulkExport | undefined> {
  const { signal } = opts
  throwIfAborted(signal)
  const table = await ctx.table(entity)
  const names = opts.fields
  const tracked = opts.highest ? [opts.highest.cursor, ...opts.highest.keys] : []
  const selected = [...names, ...tracked.filter((n, i) => !names.includes(n) && tracked.indexOf(n) === i)]
  const fields: FieldInfo[] = names.map((n) => columnOf(table, n).field)
  const highest = opts.highest ? highestTracker(selected.map((n) => columnOf(table, n).field), opts.highest.cursor, opts.highest.keys) : undefined
  const decode = rowDecoder(table, selected, table.info.primaryKey.filter((k) => selected.includes(k)))
  const held = await holdConnection(ctx.pool())
  let ended = false
  try {
    const rows = await openRowStream(held, `SELECT ${selectList(table, selected)} FROM ${table.sql}`, [], ROWS_PER_CHUNK)
    const next = () => rows.next().catch((error: unknown) => Promise.reject(classifyMysqlError(error, ctx.errorContext(table.info.name))))
    async function* chunks(): AsyncGenerator<Buffer> {
      for (;;) {
        const batch = await next()
        if (!batch) break
        decode(batch)
        let text = ''
        for (const row of batch) {
          for (let i = 0; i < fields.length; i++) text += (i === 0 ? '' : '\t') + encodeCopyText(row[names[i]!] ?? null, fields[i]!)
          text += '\n'
          highest?.note(selected.map((n) => row[n] ?? null))
        }
        yield Buffer.from(text)
        throwIfAborted(signal)
      }
      await endRowStream(held, [])
      ended = true
    }
    const stream = Readable.from(chunks(), { objectMode: false })
    let closed = false
    return {
      format: COPY_TEXT_FORMAT,
      fields,
      stream,
      get highest() {
        return highest && ended ? highest.row() : undefined
      },
      close: async () => {
        if (closed) return
        closed = true
        if (!ended) stream.destroy()
        // A result set not read to its end can only be stopped by closing the connection.
        held.release(!ended)
      },
    }
  } catch (error) {
    held.release(true)
    throw classifyMysqlError(error, ctx.errorContext(table.info.name))
  }
}
