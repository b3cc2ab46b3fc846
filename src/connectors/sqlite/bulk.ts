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
import { cellEncoder, decodeCell, type CellEncoder } from './copy-text-cells.js'
import type { SqliteFile } from './database.js'
import { quoteIdent } from './dialect.js'
import { findTable } from './introspect.js'
import { requireFields } from './source.js'

/**
 * Rows encoded into one string before it is written into the chunk's
 * bytes: few enough that the string rarely outlives a young-generation
 * collection (a string of hundreds of rows made the young generation grow,
 * and the peak RSS with it), enough that the per-write cost does not show.
 */
const ROWS_PER_STRING = 10

/**
 * Bytes per chunk of the stream: each chunk is one write to the
 * destination's socket, and fewer, larger writes cost less.
 */
const CHUNK_BYTES = 256 * 1024

/** Rows read per statement when a table is read in rowid order (see {@link readRows}). */
const ROWS_PER_READ = 256

/** The names SQLite gives a table's rowid, unless a column takes the name. */
const ROWID_NAMES = ['rowid', '_rowid_', 'oid'] as const

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)

/** The formats this connector can export. */
export const SQLITE_BULK_FORMATS = [COPY_TEXT_FORMAT] as const

/**
 * Stream the fields of a table as COPY text. With `highest`, the greatest
 * `(cursor, key)` is tracked over the decoded rows as they stream (one
 * snapshot, canonical order whatever the stored formats). `reader`, a
 * connection of the export's own to the same file, lets a table with a
 * rowid be read in batches (see {@link readRows}); it is closed with the export.
 */
export function bulkExport(db: Database.Database, entity: EntityInfo, opts: BulkExportOptions, reader?: SqliteFile): BulkExport {
  throwIfAborted(opts.signal)
  const fields = requireFields(entity, opts.fields)
  // Cursor and key fields the export does not carry are read alongside, for `highest`.
  const tracked = opts.highest ? [opts.highest.cursor, ...opts.highest.keys] : []
  const extra = requireFields(entity, tracked.filter((n, i) => !opts.fields.includes(n) && tracked.indexOf(n) === i))
  const selected = [...fields, ...extra]
  const encoders = fields.map((f) => cellEncoder(entity.name, f))
  const rows = readRows(db, entity, selected, reader)
  const highest = opts.highest ? highestNoter(entity.name, selected, tracked, highestTracker(selected, opts.highest.cursor, opts.highest.keys)) : undefined
  let ended = false
  let produced = 0

  function* chunks(): Generator<Buffer> {
    let chunk = Buffer.allocUnsafe(CHUNK_BYTES)
    let used = 0
    // A few rows per string, appended to: fewer writes into the chunk than one per row, and no long string kept alive.
    let text = ''
    let lines = 0
    for (const batch of rows.batches) {
      for (const cells of batch) {
        text += encodeRow(encoders, cells)
        highest?.note(cells)
        if (++lines < ROWS_PER_STRING) continue
        // At most 3 bytes per UTF-16 unit: a string that might not fit starts the next chunk.
        if (used + text.length * 3 > CHUNK_BYTES && used > 0) {
          yield chunk.subarray(0, used)
          chunk = Buffer.allocUnsafe(CHUNK_BYTES)
          used = 0
        }
        if (text.length * 3 > CHUNK_BYTES) yield Buffer.from(text)
        else used += chunk.write(text, used)
        produced += lines
        text = ''
        lines = 0
      }
      throwIfAborted(opts.signal)
    }
    if (used > 0) yield chunk.subarray(0, used)
    if (lines > 0) yield Buffer.from(text)
    produced += lines
    ended = true
    rows.close()
  }

  const stream = Readable.from(chunks(), { objectMode: false })
  return {
    format: COPY_TEXT_FORMAT,
    fields,
    stream,
    get rows() {
      return produced
    },
    get highest() {
      return highest && ended ? highest.tracker.row() : undefined
    },
    close: async () => {
      // Ends the reading (and its transaction) so the connection is free for writes.
      rows.close()
      stream.destroy()
    },
  }
}

/** The rows of an export, in batches, and how to stop reading them early. */
interface RowSource {
  batches: Iterable<readonly unknown[][]>
  close(): void
}

/**
 * The selected fields of every row, as plain numbers (much cheaper to read
 * than bigints; see copy-text-cells.ts for integers past 2^53) and text.
 *
 * A table with a rowid, given a connection of its own, is read there in one
 * read transaction (one snapshot), {@link ROWS_PER_READ} rows per `all()`
 * in rowid order: that costs a quarter less per row than `iterate()`, which
 * reads the rest (views, WITHOUT ROWID tables, in-memory databases, rowids
 * past 2^53) in one statement on the shared connection.
 */
function readRows(db: Database.Database, entity: EntityInfo, selected: readonly FieldInfo[], reader: SqliteFile | undefined): RowSource {
  const table = entity.name
  const columns = selected.map((f) => quoteIdent(f.name)).join(', ')
  const own = openReader(reader)
  const ref = own ? findTable(own, table) : undefined
  // The rowid's names are all taken when a table has columns called rowid, _rowid_ and oid.
  const rowid = ref?.kind === 'table' && !ref.withoutRowid ? ROWID_NAMES.find((n) => !entity.fields.some((f) => f.name.toLowerCase() === n)) : undefined
  if (own && rowid) {
    try {
      const batched = rowidBatches(own, table, columns, rowid, selected.length)
      if (batched) return { batches: batched, close: () => reader!.close() }
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
      if (batch.length < ROWS_PER_READ) continue
      yield batch
      batch = []
    }
    if (batch.length > 0) yield batch
  }
  return { batches: single(), close: () => rows.return?.() }
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
  // The first read fixes the transaction's snapshot. Apart, min and max each take one b-tree descent; together, a full scan.
  const from = quoteIdent(table)
  const [low, high] = own.prepare(`SELECT (SELECT min(${rowid}) FROM ${from}), (SELECT max(${rowid}) FROM ${from})`).raw(true).safeIntegers(true).get() as [bigint | null, bigint | null]
  if (low !== null && high !== null && (low <= -MAX_SAFE || high >= MAX_SAFE)) {
    own.exec('COMMIT')
    return undefined
  }
  const next = own.prepare(`SELECT ${columns}, ${rowid} FROM ${quoteIdent(table)} WHERE ${rowid} > ? ORDER BY ${rowid} LIMIT ${ROWS_PER_READ}`).raw(true).safeIntegers(false)
  function* batches(): Generator<unknown[][]> {
    if (low === null) return
    let after = Number(low) - 1
    for (;;) {
      const batch = next.all(after) as unknown[][]
      if (batch.length === 0) return
      yield batch
      after = batch[batch.length - 1]![width] as number
    }
  }
  return batches()
}

/** One COPY text line. */
function encodeRow(encoders: readonly CellEncoder[], cells: readonly unknown[]): string {
  let line = encoders[0]!(cells[0])
  for (let i = 1; i < encoders.length; i++) line += '\t' + encoders[i]!(cells[i])
  return line + '\n'
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
