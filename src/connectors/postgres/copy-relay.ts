/**
 * A COPY TO on one connection relayed into a COPY FROM STDIN on another,
 * as the bytes came off the wire. A backend's CopyData message ('d',
 * length, payload) is byte for byte the message a frontend sends to feed
 * COPY FROM, so the relay only walks the message headers to find where the
 * data ends and to leave out anything that is not CopyData (the
 * CopyOutResponse first, a NoticeResponse or ParameterStatus the server may
 * send mid-COPY), and writes slices of the source's socket chunks to the
 * destination's socket. Nothing is joined, copied or framed again per row
 * or per chunk: a first copy through pg-copy-streams spent 0.6 s of CPU a
 * million rows in Node, competing for the cores with both servers
 * (docs/sync-semantics.md, "The bulk path").
 */
import type { Socket } from 'node:net'
import type pg from 'pg'
import { runCopyOut } from './copy-out.js'

const COPY_DATA = 0x64 // 'd'
const COPY_DONE = 0x63 // 'c'
const ERROR_RESPONSE = 0x45 // 'E'
/** A message's type byte and its length (which counts itself). */
const HEADER = 5

/** What one chunk of the source's socket gave: the bytes to pass on, and how far the COPY got. */
export interface CopyFrames {
  /** Slices of whole or partial CopyData messages, in order; together with the earlier ones, a valid COPY FROM stream. */
  pieces: Buffer[]
  /** CopyData messages completed so far (all chunks). */
  messages: number
  /** Bytes of a CopyData message the pieces began and left unfinished (the next chunk brings them). */
  owed: number
  /** Set once the data ended: the CopyDone or ErrorResponse and what follows it, for node-postgres to read. */
  rest?: Buffer
}

/**
 * Splits a COPY TO's backend messages, fed chunk by chunk in order and cut
 * anywhere, into the CopyData bytes to pass on. A message cut by a chunk's
 * end is passed on in parts; only a header cut before its length is known
 * (at most four bytes) is kept for the next chunk.
 */
export class CopyDataFrames {
  #messages = 0
  /** Bytes of the current message still to come from the next chunk. */
  #left = 0
  /** Whether the current message is passed on (a CopyData). */
  #passing = false
  /** A header cut by the last chunk's end. */
  #header = Buffer.alloc(HEADER)
  #headerLength = 0
  #done = false

  feed(chunk: Buffer): CopyFrames {
    if (this.#done) throw new Error('COPY relay: data after the end of the COPY')
    const pieces: Buffer[] = []
    let at = this.#finishMessage(chunk, 0, pieces)
    if (this.#headerLength > 0 && at < chunk.length) {
      const taken = Math.min(HEADER - this.#headerLength, chunk.length - at)
      chunk.copy(this.#header, this.#headerLength, at, at + taken)
      this.#headerLength += taken
      at += taken
      if (this.#headerLength < HEADER) return this.#framed(pieces)
      const header = this.#header
      this.#headerLength = 0
      if (header[0] === COPY_DONE || header[0] === ERROR_RESPONSE) return this.#end(pieces, Buffer.concat([header, chunk.subarray(at)]))
      this.#passing = header[0] === COPY_DATA
      this.#left = header.readInt32BE(1) + 1 - HEADER
      if (this.#passing) pieces.push(Buffer.from(header))
      // An empty CopyData is all header.
      if (this.#left === 0 && this.#passing) this.#messages++
      at = this.#finishMessage(chunk, at, pieces)
    }
    // Runs of whole CopyData messages go on as one slice each.
    let run = at
    while (at < chunk.length) {
      if (chunk.length - at < HEADER) {
        // Not passed on until its type is known: kept, and the chunk's slice ends before it.
        this.#headerLength = chunk.copy(this.#header, 0, at)
        this.#left = 0
        break
      }
      const type = chunk[at]!
      if (type === COPY_DONE || type === ERROR_RESPONSE) {
        if (at > run) pieces.push(chunk.subarray(run, at))
        return this.#end(pieces, chunk.subarray(at))
      }
      const end = at + 1 + chunk.readInt32BE(at + 1)
      if (type !== COPY_DATA) {
        if (at > run) pieces.push(chunk.subarray(run, at))
        run = Math.min(end, chunk.length)
      }
      if (end > chunk.length) {
        this.#passing = type === COPY_DATA
        this.#left = end - chunk.length
        at = chunk.length
        break
      }
      if (type === COPY_DATA) this.#messages++
      at = end
    }
    if (at > run) pieces.push(chunk.subarray(run, at))
    return this.#framed(pieces)
  }

  #framed(pieces: Buffer[]): CopyFrames {
    return { pieces, messages: this.#messages, owed: this.#passing ? this.#left : 0 }
  }

  /** Pass on (or skip) the rest of a message the last chunk cut; where the chunk goes on. */
  #finishMessage(chunk: Buffer, at: number, pieces: Buffer[]): number {
    if (this.#left === 0) return at
    const taken = Math.min(this.#left, chunk.length - at)
    if (this.#passing) pieces.push(chunk.subarray(at, at + taken))
    this.#left -= taken
    if (this.#left === 0 && this.#passing) this.#messages++
    return at + taken
  }

  #end(pieces: Buffer[], rest: Buffer): CopyFrames {
    this.#done = true
    return { pieces, messages: this.#messages, owed: 0, rest }
  }
}

/**
 * The CopyData bytes of `sql`'s COPY TO STDOUT, chunk by chunk (see
 * {@link CopyDataFrames}), ending once node-postgres has read the COPY's
 * end; a failed COPY throws the server's error. A caller that stops early
 * must discard the client: the COPY is left unfinished on it.
 */
export function copyOutFrames(client: pg.ClientBase, sql: string): AsyncGenerator<CopyFrames> {
  const frames = new CopyDataFrames()
  return runCopyOut(client, sql, (chunk) => {
    const framed = frames.feed(chunk)
    return { value: framed.pieces.length > 0 ? framed : undefined, rest: framed.rest }
  })
}

/** The parts of node-postgres's Connection the relay uses. */
interface PgConnection {
  stream: Socket
  query(text: string): void
  sendCopyFail(message: string): void
}

/** A node-postgres submittable for COPY FROM STDIN whose data the caller writes to the socket itself. */
class CopyInQuery {
  #connection: PgConnection | undefined
  #accepting = settable<PgConnection>()
  #done = settable<number>()
  #rowCount = 0
  /** Set when the server refused the COPY: it drops what is still sent. */
  failed = false

  constructor(readonly text: string) {}

  submit(connection: PgConnection): void {
    this.#connection = connection
    connection.query(this.text)
  }

  /** pg's query_timeout replaces this; it must exist. */
  callback(): void {}

  handleCopyInResponse(): void {
    this.#accepting.resolve(this.#connection!)
  }

  handleCommandComplete(message: { text?: string } | undefined): void {
    const match = /COPY (\d+)/.exec(message?.text ?? '')
    if (match) this.#rowCount = Number(match[1])
  }

  handleReadyForQuery(): void {
    this.#done.resolve(this.#rowCount)
  }

  // pg does not call handleReadyForQuery after an error: the error settles both.
  handleError(error: unknown): void {
    this.failed = true
    this.#accepting.reject(error)
    this.#done.reject(error)
  }

  /** The connection, once the server takes COPY data. */
  accepting(): Promise<PgConnection> {
    return this.#accepting.promise
  }

  /** The rows the server wrote, once it confirmed the COPY. */
  done(): Promise<number> {
    return this.#done.promise
  }
}

/** A promise with its resolve and reject (Promise.withResolvers, which Node 20 lacks); never an unhandled rejection. */
function settable<T>(): { promise: Promise<T>; resolve(value: T): void; reject(error: unknown): void } {
  let resolve!: (value: T) => void
  let reject!: (error: unknown) => void
  const promise = new Promise<T>((yes, no) => {
    resolve = yes
    reject = no
  })
  // Either of a query's promises may be left unawaited when the other settles first.
  promise.catch(() => undefined)
  return { promise, resolve, reject }
}

/** Options of {@link copyInFrames}. */
export interface CopyInFramesOptions {
  signal?: AbortSignal
  /** Called as messages go out, with the count so far. */
  onMessages?(messages: number): void
}

const COPY_DONE_MESSAGE = Buffer.from([COPY_DONE, 0, 0, 0, 4])

/**
 * Run `sql` (a COPY … FROM STDIN) on `client`, writing `frames` to its
 * socket as they come, and wait for the server's count of rows written.
 * If the frames fail (the source's COPY broke off) or `signal` aborts, the
 * COPY is cancelled with CopyFail, so the server rolls it back and the
 * connection stays usable, and that error is thrown.
 */
export async function copyInFrames(client: pg.ClientBase, sql: string, frames: AsyncIterable<CopyFrames>, opts: CopyInFramesOptions = {}): Promise<number> {
  const query = new CopyInQuery(sql)
  const done = query.done()
  client.query(query as unknown as pg.Submittable)
  const connection = await query.accepting()
  const socket = connection.stream
  let owed = 0
  try {
    for await (const framed of frames) {
      // A row the destination refused ends the COPY there: the rest of the source is not read for nothing.
      if (query.failed) break
      let flowing = true
      for (const piece of framed.pieces) flowing = socket.write(piece)
      owed = framed.owed
      opts.onMessages?.(framed.messages)
      opts.signal?.throwIfAborted()
      if (!flowing) await drained(socket, opts.signal)
    }
    opts.signal?.throwIfAborted()
  } catch (error) {
    // A message begun is finished first (its bytes are never read as a row: CopyFail rolls the COPY back),
    // or the server would take the CopyFail for the rest of it.
    if (owed > 0) socket.write(Buffer.alloc(owed))
    connection.sendCopyFail(error instanceof Error ? error.message : String(error))
    // The server answers CopyFail with an error; what the caller needs is why it was sent.
    await done.catch(() => undefined)
    throw error
  }
  // After a refusal the server drops what comes, but it must come in whole messages or the next query is read as their rest.
  if (query.failed) socket.write(Buffer.alloc(owed))
  else socket.write(COPY_DONE_MESSAGE)
  return await done
}

/** Until `socket` drains, closes or `signal` aborts. */
function drained(socket: Socket, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const finish = () => {
      socket.off('drain', finish)
      socket.off('close', finish)
      signal?.removeEventListener('abort', abort)
      resolve()
    }
    const abort = () => {
      finish()
      reject(signal!.reason)
    }
    socket.on('drain', finish)
    socket.on('close', finish)
    signal?.addEventListener('abort', abort, { once: true })
  })
}
