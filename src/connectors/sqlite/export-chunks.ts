/**
 * The pieces of a SQLite bulk export that both of its readers run (the
 * process's own thread, and the worker of parallel-export.ts): a table's
 * rows in rowid order, page by page, and their COPY text in chunks.
 */
import type Database from 'better-sqlite3'
import type { CellEncoder } from './copy-text-cells.js'
import { quoteIdent } from './dialect.js'

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
export const CHUNK_BYTES = 256 * 1024

/** Rows read per statement when a table is read in rowid order (see {@link rowidPages}). */
const ROWS_PER_READ = 256

/** Where a rowid read starts and ends: after `after`, through `through` (both rowids, safe integers). */
export interface RowidSpan {
  after: number
  through: number
}

/**
 * The span of all the table's rowids, null when it has no rows, undefined
 * when a rowid is past 2^53 (no plain number holds it exactly). Read inside
 * the caller's transaction, this is its first read: it fixes the snapshot.
 */
export function rowidSpan(db: Database.Database, table: string, rowid: string): RowidSpan | null | undefined {
  const from = quoteIdent(table)
  // Apart, min and max each take one b-tree descent; together, a full scan.
  const [low, high] = db.prepare(`SELECT (SELECT min(${rowid}) FROM ${from}), (SELECT max(${rowid}) FROM ${from})`).raw(true).safeIntegers(true).get() as [bigint | null, bigint | null]
  if (low === null || high === null) return null
  const max = BigInt(Number.MAX_SAFE_INTEGER)
  return low > -max && high < max ? { after: Number(low) - 1, through: Number(high) } : undefined
}

/**
 * The selected columns of the rows in `span`, in rowid order, each row
 * carrying its rowid after its `width` selected cells, {@link ROWS_PER_READ}
 * a statement: that costs a quarter less per row than one `iterate()`.
 * Read inside the caller's transaction (its snapshot).
 */
export function* rowidPages(db: Database.Database, table: string, columns: string, rowid: string, width: number, span: RowidSpan): Generator<unknown[][]> {
  const next = db.prepare(`SELECT ${columns}, ${rowid} FROM ${quoteIdent(table)} WHERE ${rowid} > ? AND ${rowid} <= ? ORDER BY ${rowid} LIMIT ${ROWS_PER_READ}`).raw(true).safeIntegers(false)
  let after = span.after
  for (;;) {
    const page = next.all(after, span.through) as unknown[][]
    if (page.length === 0) return
    yield page
    after = page[page.length - 1]![width] as number
  }
}

/** What {@link copyTextChunks} calls besides encoding. */
export interface ChunkHooks {
  /** Each row's cells, after it is encoded. */
  note?: (cells: readonly unknown[]) => void
  /** After each page: where a reader checks for cancellation. */
  afterPage?: () => void
}

/**
 * The COPY text of the pages' rows in chunks of at most {@link CHUNK_BYTES}
 * (a row longer than that is a chunk of its own); `progress.rows` counts
 * the rows encoded into chunks so far.
 */
export function* copyTextChunks(pages: Iterable<readonly unknown[][]>, encoders: readonly CellEncoder[], progress: { rows: number }, hooks: ChunkHooks = {}): Generator<Buffer> {
  let chunk = Buffer.allocUnsafe(CHUNK_BYTES)
  let used = 0
  // A few rows per string, appended to: fewer writes into the chunk than one per row, and no long string kept alive.
  let text = ''
  let lines = 0
  for (const page of pages) {
    for (const cells of page) {
      text += encodeRow(encoders, cells)
      hooks.note?.(cells)
      if (++lines < ROWS_PER_STRING) continue
      // At most 3 bytes per UTF-16 unit: a string that might not fit starts the next chunk.
      if (used + text.length * 3 > CHUNK_BYTES && used > 0) {
        yield chunk.subarray(0, used)
        chunk = Buffer.allocUnsafe(CHUNK_BYTES)
        used = 0
      }
      if (text.length * 3 > CHUNK_BYTES) yield Buffer.from(text)
      else used += chunk.write(text, used)
      progress.rows += lines
      text = ''
      lines = 0
    }
    hooks.afterPage?.()
  }
  if (used > 0) yield chunk.subarray(0, used)
  if (lines > 0) yield Buffer.from(text)
  progress.rows += lines
}

/** One COPY text line. */
function encodeRow(encoders: readonly CellEncoder[], cells: readonly unknown[]): string {
  let line = encoders[0]!(cells[0])
  for (let i = 1; i < encoders.length; i++) line += '\t' + encoders[i]!(cells[i])
  return line + '\n'
}
