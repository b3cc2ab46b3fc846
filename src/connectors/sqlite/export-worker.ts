/**
 * The second reader of a parallel SQLite bulk export (parallel-export.ts
 * starts it): a worker thread that opens the file read-only, takes its
 * snapshot when told to (while the main thread holds the file's write lock,
 * so both threads see the same rows), reads its rowid span and posts the
 * COPY text in chunks. At most the credits the main thread gives are in
 * flight, so memory stays a few chunks whatever the table's size.
 */
import Database from 'better-sqlite3'
import { workerData } from 'node:worker_threads'
import { cellEncoder } from './copy-text-cells.js'
import { quoteIdent } from './dialect.js'
import { CHUNK_BYTES, copyTextChunks, rowidPages } from './export-chunks.js'
import { CANCEL, CREDITS, POSTED, serializeError, type ExportJob, type FromMain, type FromWorker } from './parallel-protocol.js'

const job = workerData as ExportJob
const control = new Int32Array(job.control)
function post(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  job.port.postMessage(message, transfer)
  Atomics.add(control, POSTED, 1)
  Atomics.notify(control, POSTED)
}

/** Thrown inside the read loop when the main thread cancels; ends the worker quietly. */
class Cancelled extends Error {}

let db: Database.Database | undefined
try {
  db = new Database(job.path, { readonly: true, fileMustExist: true, timeout: job.busyTimeoutMs })
  db.pragma('cache_size = -2000')
  const encoders = job.fields.map((f) => cellEncoder(job.entity, f))
  job.port.once('message', (message: FromMain) => {
    try {
      read(db!, encoders, message)
    } catch (error) {
      if (!(error instanceof Cancelled)) post({ type: 'error', error: serializeError(error) })
    } finally {
      db?.close()
      job.port.close()
    }
  })
  post({ type: 'opened' })
} catch (error) {
  db?.close()
  post({ type: 'error', error: serializeError(error) })
  job.port.close()
}

function read(db: Database.Database, encoders: ReturnType<typeof cellEncoder>[], begin: FromMain): void {
  // The first read fixes the snapshot: the main thread holds the write lock until it hears 'ready'.
  db.exec('BEGIN')
  db.prepare(`SELECT 1 FROM ${quoteIdent(job.table)} LIMIT 1`).get()
  post({ type: 'ready' })
  const progress = { rows: 0 }
  const pages = rowidPages(db, job.table, job.columns, job.rowid, job.fields.length, begin.span)
  for (const chunk of copyTextChunks(pages, encoders, progress, { afterPage: throwIfCancelled })) {
    waitForCredit()
    // A full chunk owns its ArrayBuffer and moves; a shorter one is copied out of what may be Buffer's shared pool.
    const bytes = chunk.byteOffset === 0 && chunk.buffer.byteLength === CHUNK_BYTES ? new Uint8Array(chunk.buffer, 0, chunk.length) : new Uint8Array(chunk)
    post({ type: 'chunk', bytes, rows: progress.rows }, [bytes.buffer as ArrayBuffer])
  }
  post({ type: 'done', rows: progress.rows })
}

function throwIfCancelled(): void {
  if (Atomics.load(control, CANCEL) !== 0) throw new Cancelled()
}

/** Take one credit, waiting for the main thread to hand one back when none is left. */
function waitForCredit(): void {
  for (;;) {
    throwIfCancelled()
    if (Atomics.load(control, CREDITS) > 0) {
      // Only this thread takes credits: one seen is still there.
      Atomics.sub(control, CREDITS, 1)
      return
    }
    Atomics.wait(control, CREDITS, 0, 1000)
  }
}
