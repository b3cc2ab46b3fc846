/**
 * A SQLite bulk export read by two threads: this one reads the lower half
 * of the table's rowids, a worker (export-worker.ts) the upper half, and
 * both halves' COPY text goes out as one stream (the rows' order does not
 * matter to COPY). Reading and encoding a million rows costs this thread
 * about twice what the destination's COPY costs its server, so one reader
 * was the copy's bound; on two cores the halves run side by side.
 *
 * One snapshot for both: SQLite connections cannot share a read
 * transaction, so both take theirs while a third connection holds the
 * file's write lock (`BEGIN IMMEDIATE`), when no commit can come between
 * them. The lock is held from this thread's first read to the worker's:
 * a millisecond or two, during which another writer waits (its busy
 * timeout covers that). A file that cannot be locked (read-only, or another
 * writer past LOCK_WAIT_MS) is read by one thread, as is a small table, or
 * one where the worker's file is not found (the library bundled elsewhere).
 */
import Database from 'better-sqlite3'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads'
import { rowidSpan, type RowidSpan } from './export-chunks.js'
import { CANCEL, CONTROL_BYTES, CREDITS, POSTED, reviveError, type ExportJob, type FromMain, type FromWorker } from './parallel-protocol.js'

/** Tables whose rowids span fewer than this are read by one thread: starting a worker (tens of ms) would cost more than it saves. */
const PARALLEL_MIN_ROWS = 100_000

/** How long the export waits for another connection's write to end before it reads in one thread instead. */
const LOCK_WAIT_MS = 1000

/**
 * The worker's young generation, capped: what it keeps alive is a page of
 * rows and a chunk (about 6 MB of heap), but V8 grows a busy thread's young
 * generation to its maximum over a long copy, and that of a second thread
 * came on top of this one's: peak RSS 154 MB at 3,000,000 rows against 108
 * MB with one reader (119 MB at 1,000,000). Smaller, it is collected more
 * often, each time in well under a millisecond.
 */
const WORKER_HEAP = { maxYoungGenerationSizeMb: 12 }

/** Chunks (256 KB each) the worker may post ahead of this thread's use of them. */
const CREDIT_CHUNKS = 4

/** Atomics.waitAsync (ES2024; in Node since 16), typed here as the project's ES2022 library does not. */
const waitAsync = (Atomics as unknown as { waitAsync(array: Int32Array, index: number, value: number, timeout: number): { async: boolean; value: Promise<string> | string } }).waitAsync

/** The worker's half of the export. */
export interface SecondReader {
  /** Rows the worker has encoded so far (all of them once it is done). */
  readonly rows: number
  /** The worker's next chunk if one is here already, without waiting. */
  take(): Buffer | undefined
  /** The worker's next chunk, waiting for it; undefined once it sent its last. */
  next(): Promise<Buffer | undefined>
  /** Stop the worker (done or not) and wait for it to exit. */
  close(): Promise<void>
}

/** What {@link splitRead} needs besides the connection it reads with. */
export type SplitJob = Omit<ExportJob, 'port' | 'control'>

/**
 * Begin `own`'s read transaction together with a worker's on the upper
 * half of the table's rowids. Returns the worker and the span left to
 * `own` (then in its transaction), or undefined, with nothing started and
 * `own` outside any transaction, when the table is read by one thread.
 */
export async function splitRead(own: Database.Database, job: SplitJob): Promise<{ second: SecondReader; ownSpan: RowidSpan } | undefined> {
  const url = workerUrl()
  if (!url || !wideEnough(rowidSpan(own, job.table, job.rowid))) return undefined
  const channel = new MessageChannel()
  const control = new Int32Array(new SharedArrayBuffer(CONTROL_BYTES))
  control[CREDITS] = CREDIT_CHUNKS
  const worker = new Worker(url, { workerData: { ...job, port: channel.port2, control: control.buffer }, transferList: [channel.port2], resourceLimits: WORKER_HEAP })
  const second = new WorkerReader(worker, channel.port1, control)
  let lock: Database.Database | undefined
  let began = false
  try {
    if ((await second.signal()) !== 'opened') throw new Error('the worker did not open the file')
    lock = lockFile(job)
    if (!lock) return await abandon(second)
    own.exec('BEGIN')
    began = true
    const span = rowidSpan(own, job.table, job.rowid)
    if (!wideEnough(span)) return await abandon(second, own)
    const middle = span.after + Math.floor((span.through - span.after) / 2)
    const begin: FromMain = { type: 'begin', span: { after: middle, through: span.through } }
    channel.port1.postMessage(begin)
    if ((await second.signal()) !== 'ready') throw new Error('the worker did not take its snapshot')
    return { second, ownSpan: { after: span.after, through: middle } }
  } catch {
    // Whatever kept the worker from starting, one thread can still read the table.
    return await abandon(second, began ? own : undefined)
  } finally {
    lock?.exec('ROLLBACK')
    lock?.close()
  }
}

/** The worker file as the build ships it (dist/cli/sqlite-export-worker.js), found by the package's own name. */
function workerUrl(): URL | undefined {
  try {
    const url = new URL(import.meta.resolve('syncline/sqlite-export-worker'))
    return existsSync(fileURLToPath(url)) ? url : undefined
  } catch {
    // Not resolvable (a test runner's module loader, the library bundled into another program).
    return undefined
  }
}

function wideEnough(span: RowidSpan | null | undefined): span is RowidSpan {
  return span !== null && span !== undefined && span.through - span.after >= PARALLEL_MIN_ROWS
}

/** A connection holding the file's write lock, or undefined when it cannot have it soon. */
function lockFile(job: SplitJob): Database.Database | undefined {
  let lock: Database.Database | undefined
  try {
    lock = new Database(job.path, { fileMustExist: true, timeout: LOCK_WAIT_MS })
    lock.exec('BEGIN IMMEDIATE')
    return lock
  } catch {
    lock?.close()
    return undefined
  }
}

async function abandon(second: SecondReader, own?: Database.Database): Promise<undefined> {
  if (own?.inTransaction) own.exec('COMMIT')
  await second.close()
  return undefined
}

/** The worker, read through its port without a listener (receiveMessageOnPort), woken by its POSTED counter. */
class WorkerReader implements SecondReader {
  rows = 0
  #done = false
  #failure: Error | undefined
  #exitCode: number | undefined
  #exited: Promise<void>

  constructor(
    private readonly worker: Worker,
    private readonly port: MessagePort,
    private readonly control: Int32Array,
  ) {
    this.#exited = new Promise((resolve) => worker.once('exit', () => resolve()))
    worker.on('error', (error) => this.#fail(error))
    // Its last messages may still wait in the port: only a port found empty after the exit means it stopped short.
    worker.once('exit', (code) => {
      this.#exitCode = code
      Atomics.notify(this.control, POSTED)
    })
  }

  /** A message from the port, or undefined when none is there; fails once the worker has exited without finishing. */
  #receive(): FromWorker | undefined {
    if (this.#failure) throw this.#failure
    const received = receiveMessageOnPort(this.port)?.message as FromWorker | undefined
    if (received || this.#done || this.#exitCode === undefined) return received
    this.#fail(new Error(`The SQLite export's second reader stopped (exit code ${this.#exitCode}) before it finished`))
    throw this.#failure
  }

  /** The next message that is not a chunk ('opened', 'ready'), waiting for it. */
  async signal(): Promise<FromWorker['type']> {
    for (;;) {
      const message = await this.#message()
      if (message.type === 'error') throw reviveError(message.error)
      if (message.type === 'opened' || message.type === 'ready') return message.type
    }
  }

  take(): Buffer | undefined {
    for (;;) {
      if (this.#done) return undefined
      const received = this.#receive()
      if (!received) return undefined
      const chunk = this.#handle(received)
      if (chunk) return chunk
    }
  }

  async next(): Promise<Buffer | undefined> {
    for (;;) {
      const seen = Atomics.load(this.control, POSTED)
      const chunk = this.take()
      if (chunk || this.#done) return chunk
      await this.#posted(seen)
    }
  }

  async close(): Promise<void> {
    this.#done = true
    Atomics.store(this.control, CANCEL, 1)
    Atomics.notify(this.control, CREDITS)
    this.port.close()
    await this.worker.terminate()
    await this.#exited
  }

  #handle(message: FromWorker): Buffer | undefined {
    switch (message.type) {
      case 'chunk':
        this.rows = message.rows
        // The chunk is this thread's now: the worker may post another.
        Atomics.add(this.control, CREDITS, 1)
        Atomics.notify(this.control, CREDITS)
        return Buffer.from(message.bytes.buffer, message.bytes.byteOffset, message.bytes.length)
      case 'done':
        this.rows = message.rows
        this.#done = true
        return undefined
      case 'error':
        this.#fail(reviveError(message.error))
        throw this.#failure
      default:
        return undefined
    }
  }

  async #message(): Promise<FromWorker> {
    for (;;) {
      const seen = Atomics.load(this.control, POSTED)
      const received = this.#receive()
      if (received) return received
      await this.#posted(seen)
    }
  }

  /** Wait until the worker posts after `seen` (or fails: the timeout looks again). */
  async #posted(seen: number): Promise<void> {
    const wait = waitAsync(this.control, POSTED, seen, 200)
    if (wait.async) await wait.value
  }

  #fail(error: Error): void {
    this.#failure ??= error
    Atomics.notify(this.control, POSTED)
  }
}
