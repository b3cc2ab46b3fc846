/**
 * Bulk export of a SQLite table as COPY text (`postgres-copy-text`), for a
 * first full copy into PostgreSQL without the row-by-row engine.
 *
 * Each stored value is written as the COPY text of its canonical value (so
 * odd timestamp formats, REAL decimals and 0/1 booleans mean what the row
 * path says they mean; see copy-text-cells.ts). SQLite does not enforce
 * declared limits, so every value is checked against them here: a value
 * past its column's VARCHAR(n) or DECIMAL(p,s) would otherwise be cut or
 * rounded by the destination without a word. Such a value ends the export
 * with a data error, and the engine copies row by row, reporting that record.
 */
import { Readable } from 'node:stream'
import type Database from 'better-sqlite3'
import { throwIfAborted } from '../../errors.js'
import type { EntityInfo, FieldInfo, Value } from '../../values/canonical.js'
import { highestTracker, type HighestTracker } from '../highest-tracker.js'
import { COPY_TEXT_FORMAT } from '../../values/copy-text.js'
import type { BulkExport, BulkExportOptions } from '../connector.js'
import { cellEncoder, decodeCell } from './copy-text-cells.js'
import { BUSY_TIMEOUT_MS, type SqliteFile } from './database.js'
import { copyTextChunks, rowidPages, rowidSpan } from './export-chunks.js'
import { quoteIdent } from './dialect.js'
import { findTable } from './introspect.js'
import { splitRead, type SecondReader } from './parallel-export.js'
import { requireFields } from './source.js'

/** The names SQLite gives a table's rowid, unless a column takes the name. */
const ROWID_NAMES = ['rowid', '_rowid_', 'oid'] as const

/** Rows read per statement by the one-statement reader (views, WITHOUT ROWID tables, in-memory databases). */
const ROWS_PER_BATCH = 256

/** The formats this connector can export. */
export const SQLITE_BULK_FORMATS = [COPY_TEXT_FORMAT] as const

/**
 * Stream the fields of a table as COPY text. With `highest`, the greatest
 * `(cursor, key)` is tracked over the decoded rows as they stream (one
 * snapshot, canonical order whatever the stored formats). `reader`, a
 * connection of the export's own to the same file, lets a table with a
 * rowid be read in batches, and a large one by two threads
 * (parallel-export.ts; not while tracking `highest`); it is closed with
 * the export.
 */
export async function bulkExport(db: Database.Database, entity: EntityInfo, opts: BulkExportOptions, reader?: SqliteFile): Promise<BulkExport> {
  throwIfAborted(opts.signal)
  const fields = requireFields(entity, opts.fields)
  // Cursor and key fields the export does not carry are read alongside, for `highest`.
  const tracked = opts.highest ? [opts.highest.cursor, ...opts.highest.keys] : []
  const extra = requireFields(entity, tracked.filter((n, i) => !opts.fields.includes(n) && tracked.indexOf(n) === i))
  const selected = [...fields, ...extra]
  const encoders = fields.map((f) => cellEncoder(entity.name, f))
  const rows = await readRows(db, entity, selected, reader, opts.highest === undefined)
  const highest = opts.highest ? highestNoter(entity.name, selected, tracked, highestTracker(selected, opts.highest.cursor, opts.highest.keys)) : undefined
  const progress = { rows: 0 }
  let ended = false
  const hooks = { ...(highest ? { note: (cells: readonly unknown[]) => highest.note(cells) } : {}), afterPage: () => throwIfAborted(opts.signal) }

  async function* chunks(): AsyncGenerator<Buffer> {
    try {
      for (const chunk of copyTextChunks(rows.pages, encoders, progress, hooks)) {
        yield chunk
        // The second reader's chunks that came meanwhile go out between this thread's.
        for (let theirs = rows.second?.take(); theirs; theirs = rows.second?.take()) yield theirs
      }
      for (let theirs = await rows.second?.next(); theirs; theirs = await rows.second?.next()) {
        throwIfAborted(opts.signal)
        yield theirs
      }
      ended = true
    } finally {
      await rows.close()
    }
  }

  const stream = Readable.from(chunks(), { objectMode: false })
  return {
    format: COPY_TEXT_FORMAT,
    fields,
    stream,
    ...(rows.second ? { readers: 2 } : {}),
    get rows() {
      return progress.rows + (rows.second?.rows ?? 0)
    },
    get highest() {
      return highest && ended ? highest.tracker.row() : undefined
    },
    close: async () => {
      // Ends the reading (and its transaction) so the connection is free for writes.
      stream.destroy()
      await rows.close()
    },
  }
}

/** The rows of an export, page by page, the worker reading the rest when there is one, and how to stop early. */
interface RowSource {
  pages: Iterable<readonly unknown[][]>
  second?: SecondReader
  close(): Promise<void>
}

/**
 * The selected fields of every row, as plain numbers (much cheaper to read
 * than bigints; see copy-text-cells.ts for integers past 2^53) and text.
 *
 * A table with a rowid, given a connection of its own, is read there in one
 * read transaction (one snapshot) in rowid order, page by page
 * (export-chunks.ts), and when `split` and large enough, half of it by a
 * worker (parallel-export.ts). The rest (views, WITHOUT ROWID tables,
 * in-memory databases, rowids past 2^53) is read in one statement on the
 * shared connection.
 */
async function readRows(db: Database.Database, entity: EntityInfo, selected: readonly FieldInfo[], reader: SqliteFile | undefined, split: boolean): Promise<RowSource> {
  const table = entity.name
  const columns = selected.map((f) => quoteIdent(f.name)).join(', ')
  const own = openReader(reader)
  const ref = own ? findTable(own, table) : undefined
  // The rowid's names are all taken when a table has columns called rowid, _rowid_ and oid.
  const rowid = ref?.kind === 'table' && !ref.withoutRowid ? ROWID_NAMES.find((n) => !entity.fields.some((f) => f.name.toLowerCase() === n)) : undefined
  if (own && rowid) {
    try {
      const job = { path: reader!.path, busyTimeoutMs: BUSY_TIMEOUT_MS, table, columns, rowid, entity: entity.name, fields: [...selected] }
      const parallel = split ? await splitRead(own, job) : undefined
      if (parallel) {
        const { second, ownSpan } = parallel
        return { pages: rowidPages(own, table, columns, rowid, selected.length, ownSpan), second, close: () => closeBoth(reader!, second) }
      }
      const batched = rowidBatches(own, table, columns, rowid, selected.length)
      if (batched) return { pages: batched, close: async () => reader!.close() }
    } catch (error) {
      reader!.close()
      throw error
    }
  }
  reader?.close()
  const rows = db.prepare(`SELECT ${columns} FROM ${quoteIdent(table)}`).raw(true).safeIntegers(false).iterate() as IterableIterator<unknown[]>
  function* single(): Generator<unknown[][]> {
    let batch: unknown[][] = []
    for (const row of rows) {
      batch.push(row)
      if (batch.length < ROWS_PER_BATCH) continue
      yield batch
      batch = []
    }
    if (batch.length > 0) yield batch
  }
  return { pages: single(), close: async () => void rows.return?.() }
}

async function closeBoth(reader: SqliteFile, second: SecondReader): Promise<void> {
  reader.close()
  await second.close()
}

/** The reader's database, or undefined when it cannot be opened (the shared connection reads then). */
function openReader(reader: SqliteFile | undefined): Database.Database | undefined {
  try {
    return reader?.read()
  } catch {
    return undefined
  }
}

/**
 * The rows in rowid order, in one read transaction on `own` (ended when
 * `own` closes), each row carrying its rowid after the `width` selected
 * fields; undefined (transaction ended) when a rowid is past 2^53.
 */
function rowidBatches(own: Database.Database, table: string, columns: string, rowid: string, width: number): Iterable<unknown[][]> | undefined {
  own.exec('BEGIN')
  const span = rowidSpan(own, table, rowid)
  if (span === undefined) {
    own.exec('COMMIT')
    return undefined
  }
  return span === null ? [] : rowidPages(own, table, columns, rowid, width, span)
}

/** Decodes the cursor and key of each row for the tracker (only when `highest` is asked for). */
function highestNoter(entity: string, selected: readonly FieldInfo[], tracked: readonly string[], tracker: HighestTracker): { tracker: HighestTracker; note(cells: readonly unknown[]): void } {
  // The tracker reads only the tracked positions; the others stay null.
  const values: Value[] = selected.map(() => null)
  const positions = selected.flatMap((f, i) => (tracked.includes(f.name) ? [i] : []))
  return {
    tracker,
    note(cells) {
      for (const i of positions) values[i] = decodeCell(entity, selected[i]!, cells[i])
      tracker.note(values)
    },
  }
}
