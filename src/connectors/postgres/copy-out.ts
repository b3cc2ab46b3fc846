/**
 * `COPY … TO STDOUT` read straight off the connection's socket. PostgreSQL
 * sends one CopyData message per row; pg-copy-streams slices and joins a
 * buffer for each of them, which for a million small rows (the checksum
 * stream's key and hash) cost more CPU than both servers' hashing. Here the
 * socket's chunks are walked in place: each yielded chunk comes with the
 * offsets of the CopyData payloads wholly inside it (a message cut by the
 * chunk's end is carried into the next chunk), and nothing is copied per
 * row. Like pg-copy-streams it takes the socket from node-postgres's parser
 * for the COPY and hands it back, with what follows CopyDone, so that pg
 * reads the CommandComplete and ReadyForQuery (or the ErrorResponse) itself.
 */
import type { Socket } from 'node:net'
import { Readable } from 'node:stream'
import type pg from 'pg'

const COPY_DATA = 0x64 // 'd'
const COPY_DONE = 0x63 // 'c'
const ERROR_RESPONSE = 0x45 // 'E'
/** A message's type byte and its length (which counts itself). */
const MESSAGE_HEADER = 5

/**
 * A chunk of the socket's bytes and where its CopyData payloads are:
 * `spans[2i]` to `spans[2i + 1]`. `view` reads its numbers: DataView's
 * getters compile to plain loads, Buffer's readInt32BE & co. cost several
 * times more a call (they dominated a million-row stream's CPU).
 */
export interface CopyOutChunk {
  bytes: Buffer
  view: DataView
  /** Reused for the next chunk: read it before asking for that one. */
  spans: Int32Array
}

/** A DataView over exactly `bytes`. */
export function viewOf(bytes: Buffer): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.length)
}

/** The parts of node-postgres's Connection this reader uses. */
interface PgConnection {
  stream: Socket
  query(text: string): void
}

/**
 * A node-postgres submittable: pg calls `submit` when the query's turn
 * comes, and the handle* methods with what its parser reads once the socket
 * is handed back.
 */
class CopyOutQuery {
  #connection: PgConnection | undefined
  #pgOnData: ((chunk: Buffer) => void) | undefined
  #wake: (() => void) | undefined
  #error: unknown
  #ready = false
  readonly #onReadable = () => this.#wakeUp()

  constructor(readonly text: string) {}

  submit(connection: PgConnection): void {
    this.#connection = connection
    const socket = connection.stream
    const listeners = socket.listeners('data') as Array<(chunk: Buffer) => void>
    if (listeners.length !== 1) throw new Error(`COPY TO: the connection has ${listeners.length} data listeners, expected node-postgres's one`)
    this.#pgOnData = listeners[0]
    socket.removeListener('data', this.#pgOnData!)
    socket.pause()
    socket.on('readable', this.#onReadable)
    connection.query(this.text)
  }

  handleError(error: unknown): void {
    this.#error ??= error
    this.#wakeUp()
  }

  handleCommandComplete(): void {}

  handleReadyForQuery(): void {
    this.#ready = true
    this.#wakeUp()
  }

  /** The socket's next chunk; a lost connection comes out as pg's error for it. */
  async read(): Promise<Buffer> {
    for (;;) {
      if (this.#error !== undefined) throw this.#error
      const chunk = this.#connection?.stream.read() as Buffer | null
      if (chunk) return chunk
      await this.#sleep()
    }
  }

  /** Give the socket back to node-postgres, with the bytes it must parse next; then wait for its ReadyForQuery. */
  async handBack(rest: Buffer): Promise<void> {
    const socket = this.#connection!.stream
    socket.removeListener('readable', this.#onReadable)
    socket.on('data', this.#pgOnData!)
    if (rest.length > 0) this.#pgOnData!(rest)
    // pg's data handler may pause the socket; it flows again after the handler returns.
    process.nextTick(() => socket.resume())
    while (!this.#ready) {
      if (this.#error !== undefined) throw this.#error
      await this.#sleep()
    }
    if (this.#error !== undefined) throw this.#error
  }

  /** Break the connection off mid-COPY (the caller then discards the client). */
  destroy(): void {
    this.#connection?.stream.removeListener('readable', this.#onReadable)
    this.#connection?.stream.destroy()
  }

  #sleep(): Promise<void> {
    return new Promise((resolve) => (this.#wake = resolve))
  }

  #wakeUp(): void {
    const wake = this.#wake
    this.#wake = undefined
    wake?.()
  }
}

/** Splits a COPY TO's backend messages, chunk by chunk, into CopyData payloads. */
export class CopyMessages {
  /** Where the COPY's data ended (its CopyDone or an ErrorResponse) in the last chunk split returned; what follows is pg's. */
  stoppedAt: number | undefined
  #carried: Buffer | undefined
  /** The offsets of every chunk, in one array (a new one a chunk was a fair share of a stream's garbage). */
  #spans = new Int32Array(4096)

  /**
   * The chunk's whole CopyData payloads: a message the last chunk cut
   * comes first, joined in a buffer of its own, then the rest of the chunk
   * in place. (Joining the cut message to the whole next chunk copied
   * nearly every chunk of a key hash stream once more.) None while a
   * message longer than the chunk is still being gathered.
   */
  split(chunk: Buffer): CopyOutChunk[] {
    const carried = this.#carried
    if (carried === undefined) return [this.#splitWhole(chunk)]
    this.#carried = undefined
    const headerMissing = Math.max(0, MESSAGE_HEADER - carried.length)
    const head = headerMissing === 0 ? carried : Buffer.concat([carried, chunk.subarray(0, headerMissing)])
    // The COPY's end cut in two: it and what follows go to pg whole (once a COPY).
    if (head.length < MESSAGE_HEADER || head[0] === ERROR_RESPONSE || head[0] === COPY_DONE) return this.#gather(Buffer.concat([carried, chunk]))
    const missing = 1 + head.readInt32BE(1) - carried.length
    if (missing > chunk.length) return this.#gather(Buffer.concat([carried, chunk]))
    const message = Buffer.concat([carried, chunk.subarray(0, missing)])
    const rest = this.#splitWhole(chunk.subarray(missing))
    return message[0] === COPY_DATA ? [{ bytes: message, view: viewOf(message), spans: Int32Array.of(MESSAGE_HEADER, message.length) }, rest] : [rest]
  }

  /** Bytes that begin at a message: split them, or keep them all while the first message is still cut. */
  #gather(bytes: Buffer): CopyOutChunk[] {
    if (bytes.length >= MESSAGE_HEADER && (bytes[0] === ERROR_RESPONSE || bytes[0] === COPY_DONE || 1 + bytes.readInt32BE(1) <= bytes.length)) return [this.#splitWhole(bytes)]
    this.#carried = bytes
    return []
  }

  /** Bytes that begin at a message boundary: the payloads of their whole messages; a message cut at the end is kept. */
  #splitWhole(bytes: Buffer): CopyOutChunk {
    const view = viewOf(bytes)
    let spans = this.#spans
    let count = 0
    let at = 0
    while (at + MESSAGE_HEADER <= bytes.length) {
      const type = bytes[at]!
      if (type === ERROR_RESPONSE || type === COPY_DONE) {
        this.stoppedAt = at
        return { bytes, view, spans: spans.subarray(0, count) }
      }
      const end = at + 1 + view.getInt32(at + 1)
      if (end > bytes.length) break
      if (type === COPY_DATA) {
        if (count + 2 > spans.length) {
          const grown = new Int32Array(spans.length * 2)
          grown.set(spans)
          spans = this.#spans = grown
        }
        spans[count++] = at + MESSAGE_HEADER
        spans[count++] = end
      }
      at = end
    }
    // A message cut by the chunk's end: copied (so the chunk can go), finished from the next chunk.
    this.#carried = at < bytes.length ? Buffer.from(bytes.subarray(at)) : undefined
    return { bytes, view, spans: spans.subarray(0, count) }
  }
}

/** What a reader makes of one socket chunk of a COPY TO (`value`, when there is anything to yield), and once the COPY's data ended, the bytes that follow it. */
export interface CopyOutPart<T> {
  value: T | undefined
  rest: Buffer | undefined
}

/**
 * Run `sql`'s COPY TO STDOUT and yield what `read` makes of each socket
 * chunk, until it finds the COPY's end, whose bytes (CopyDone or the error)
 * node-postgres then reads itself. A caller that stops early must discard
 * the client (`release(true)`): the COPY is left unfinished on it.
 */
export async function* runCopyOut<T>(client: pg.ClientBase, sql: string, read: (chunk: Buffer) => CopyOutPart<T>): AsyncGenerator<T> {
  const query = new CopyOutQuery(sql)
  // pg queues the submittable and returns it; its reply (a failure included) comes through its handle* methods.
  client.query(query as unknown as pg.Submittable)
  let finished = false
  try {
    for (;;) {
      const part = read(await query.read())
      if (part.value !== undefined) yield part.value
      if (part.rest !== undefined) {
        finished = true
        // pg reads the error (then handBack throws it), or CopyDone, CommandComplete and ReadyForQuery.
        await query.handBack(part.rest)
        return
      }
    }
  } finally {
    if (!finished) query.destroy()
  }
}

/** The chunks of `sql`'s COPY TO STDOUT with the CopyData payloads in each (see {@link runCopyOut}). */
export async function* copyOut(client: pg.ClientBase, sql: string): AsyncGenerator<CopyOutChunk> {
  const messages = new CopyMessages()
  const parts = runCopyOut(client, sql, (socketChunk) => {
    const chunks = messages.split(socketChunk)
    const last = chunks[chunks.length - 1]
    return { value: chunks.length > 0 ? chunks : undefined, rest: messages.stoppedAt === undefined || last === undefined ? undefined : last.bytes.subarray(messages.stoppedAt) }
  })
  for await (const chunks of parts) {
    for (const chunk of chunks) if (chunk.spans.length > 0) yield chunk
  }
}

/**
 * The COPY data of `sql` as a byte stream (what pg-copy-streams' `to` gives):
 * each chunk's CopyData payloads joined into one buffer. Destroying it
 * breaks the connection off; the caller then discards the client.
 */
export function copyOutStream(client: pg.ClientBase, sql: string): Readable {
  return Readable.from(joinedPayloads(copyOut(client, sql)), { objectMode: false })
}

async function* joinedPayloads(chunks: AsyncIterable<CopyOutChunk>): AsyncGenerator<Buffer> {
  for await (const { bytes, spans } of chunks) {
    let size = 0
    for (let s = 0; s < spans.length; s += 2) size += spans[s + 1]! - spans[s]!
    const joined = Buffer.allocUnsafe(size)
    let at = 0
    for (let s = 0; s < spans.length; s += 2) at += bytes.copy(joined, at, spans[s], spans[s + 1])
    yield joined
  }
}
