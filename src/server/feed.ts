/**
 * The WebSocket change feed (DESIGN §1.5):
 * `/feed?connection=C&entity=E[&snapshot=true | &since=POSITION][&filter=JSON]`.
 * Text frames, one JSON object each: `snapshot` rows (snapshot mode), then
 * `ready` with the start position, then change events (§1.3) rendered as
 * `syncline watch --json` prints them; an error is `{"type":"error", code,
 * message}` followed by a close.
 *
 * Each client reads its own watch (`manager.watch`), so its position
 * resumes with `since` exactly as a library watch does. A client that does
 * not read fast enough first slows its own watch (events wait while more
 * than `highWaterBytes` are unsent) and is disconnected with a reason when
 * that lasts `slowTimeoutMs`, or when `maxBufferedBytes` are unsent: memory
 * per client stays bounded.
 *
 * The token is checked by `requireToken` before the upgrade (a refused
 * upgrade is an HTTP 401, never an accepted socket closed afterwards).
 */
import websocket from '@fastify/websocket'
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { jsonReplacer, redact } from '../cli/output.js'
import type { ChangeEvent } from '../engine/change-event.js'
import { SynclineError, type PlanIssue } from '../errors.js'
import { filterSchema, type FilterPlan } from '../plan/schema.js'
import type { Daemon } from '../scheduler/daemon.js'
import type { Row } from '../values/canonical.js'
import { recordId } from '../values/record-id.js'

/** Flow control of one feed client. */
export interface FeedOptions {
  /** Events wait while more than this many bytes are unsent to the client (default 1 MiB). */
  highWaterBytes: number
  /** Disconnect a client at once when this many bytes are unsent (default 16 MiB). */
  maxBufferedBytes: number
  /** Disconnect a client whose unsent bytes stayed above `highWaterBytes` this long (default 10 s). */
  slowTimeoutMs: number
}

/** The defaults, overridable by `SYNCLINE_FEED_HIGH_WATER`, `SYNCLINE_FEED_MAX_BUFFER` (bytes), `SYNCLINE_FEED_SLOW_TIMEOUT` (ms). */
export function feedOptions(env: NodeJS.ProcessEnv): FeedOptions {
  const number = (name: string, fallback: number) => {
    const text = env[name]?.trim()
    if (text === undefined || text === '') return fallback
    if (!/^\d+$/.test(text)) throw new SynclineError('PLAN_INVALID', 'config', `${name} is '${text}'; give a whole number (default ${fallback}), or unset it.`)
    return Number(text)
  }
  return {
    highWaterBytes: number('SYNCLINE_FEED_HIGH_WATER', 1024 * 1024),
    maxBufferedBytes: number('SYNCLINE_FEED_MAX_BUFFER', 16 * 1024 * 1024),
    slowTimeoutMs: number('SYNCLINE_FEED_SLOW_TIMEOUT', 10_000),
  }
}

/** What the feed uses of a `ws` socket (the package ships no types and @types/ws is not installed). */
interface WebSocket {
  readonly bufferedAmount: number
  readonly readyState: number
  readonly OPEN: number
  send(data: string): void
  close(code: number, reason: string): void
  on(event: 'close', listener: () => void): void
}

/** Close codes: 1008 for a request that cannot be served as asked, 1011 for a failure, 1013 for a client too slow, 1001 when the daemon stops. */
const CLOSE = { refused: 1008, failed: 1011, slow: 1013, goingAway: 1001 } as const

/** What a `/feed` request asks for, checked. */
interface FeedRequest {
  connection: string
  entity: string
  snapshot: boolean
  since?: string
  filters?: FilterPlan[]
}

/** Register `/feed` (and @fastify/websocket); after `requireToken`. */
export async function registerFeed(app: FastifyInstance, daemon: Daemon, opts: FeedOptions): Promise<void> {
  // maxPayload: clients send nothing the feed reads; a large frame is only a way to use memory.
  const clients = new Set<WebSocket>()
  await app.register(websocket, {
    options: { maxPayload: 64 * 1024 },
    // The plugin's own preClose closes clients without a code (1005); say why instead.
    preClose(done) {
      for (const client of clients) client.close(CLOSE.goingAway, 'the daemon is stopping')
      done()
    },
  })
  app.get('/feed', { websocket: true }, (raw, request) => {
    const socket = raw as WebSocket
    clients.add(socket)
    socket.on('close', () => clients.delete(socket))
    serveClient(socket, request.query as Record<string, unknown>, daemon, opts)
  })
}

function serveClient(socket: WebSocket, query: Record<string, unknown>, daemon: Daemon, opts: FeedOptions): void {
  let ask: FeedRequest
  try {
    ask = parseRequest(query)
  } catch (error) {
    failClient(socket, error)
    return
  }
  const labels = { connection: ask.connection, entity: ask.entity }
  // Counted once the entity proved to exist (its first row or `ready`): a label per mistyped name would pile up series.
  let counted = false
  const count = () => {
    if (counted || closed) return
    counted = true
    daemon.metrics.feedClients.inc(labels)
  }
  let closed = false
  let readySent = false
  const send = (message: unknown) => {
    if (!closed) socket.send(redact(JSON.stringify(message, jsonReplacer)))
  }
  const sendReady = (position: string) => {
    if (readySent) return
    readySent = true
    count()
    send({ type: 'ready', position })
  }
  // Each message waits while the client has too much unsent; a client that stays behind is let go.
  const deliver = async (message: unknown) => {
    send(message)
    await keepUp(socket, opts, () => closed)
  }
  const watch = daemon.manager.watch(
    ask.connection,
    ask.entity,
    async (event: ChangeEvent) => {
      // `ready` goes before the first event even when that event comes before the ready promise settles.
      sendReady(watch.position!)
      await deliver(event)
    },
    {
      // A client may lose frames in flight when it disconnects, so nothing it was sent counts as handled.
      holdAcks: true,
      ...(ask.since === undefined ? {} : { since: ask.since }),
      ...(ask.filters === undefined ? {} : { filters: ask.filters }),
      ...(ask.snapshot
        ? {
            onSnapshot: (rows: Row[], keys: readonly string[]) => {
              count()
              return deliverSnapshot(rows, keys, deliver)
            },
          }
        : {}),
    },
  )
  daemon.logger.debug({ connection: ask.connection, entity: ask.entity, snapshot: ask.snapshot, since: ask.since !== undefined }, 'feed client connected')
  void watch.ready.then(sendReady, () => undefined)
  void watch.done.then(
    () => {
      // Ended without the client leaving: the daemon stops (the manager closes its watches).
      if (!closed) socket.close(CLOSE.goingAway, 'the daemon is stopping')
    },
    (error: unknown) => {
      if (error instanceof SlowClientError) {
        daemon.logger.warn({ connection: ask.connection, entity: ask.entity, bufferedBytes: socket.bufferedAmount }, 'feed client too slow; disconnected')
      }
      if (!closed) failClient(socket, error)
    },
  )
  socket.on('close', () => {
    closed = true
    if (counted) daemon.metrics.feedClients.dec(labels)
    void watch().catch(() => undefined)
  })
}

async function deliverSnapshot(rows: Row[], keys: readonly string[], deliver: (message: unknown) => Promise<void>): Promise<void> {
  for (const record of rows) {
    const key: Row = {}
    for (const field of keys) key[field] = record[field] ?? null
    await deliver({ type: 'snapshot', recordId: recordId(keys.map((field) => record[field] ?? null)), key, record })
  }
}

/** The client did not read what the feed sent (see {@link FeedOptions}). */
class SlowClientError extends SynclineError {
  constructor(message: string) {
    super('CANCELLED', 'transient', message)
  }
}

/** Wait until the client's unsent bytes are below the high-water mark; throw {@link SlowClientError} when it stays behind. */
async function keepUp(socket: WebSocket, opts: FeedOptions, closed: () => boolean): Promise<void> {
  if (socket.bufferedAmount <= opts.highWaterBytes) return
  const since = Date.now()
  while (!closed() && socket.bufferedAmount > opts.highWaterBytes) {
    if (socket.bufferedAmount > opts.maxBufferedBytes || Date.now() - since > opts.slowTimeoutMs) {
      throw new SlowClientError(
        `The client did not keep up with the feed: ${socket.bufferedAmount} bytes were still unsent after ${Date.now() - since} ms ` +
          `(limits: ${opts.maxBufferedBytes} bytes, ${opts.slowTimeoutMs} ms). Read frames as they come, then reconnect with since=<the last position you handled>.`,
      )
    }
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** Send `{"type":"error", code, message}` and close. */
function failClient(socket: WebSocket, error: unknown): void {
  const slow = error instanceof SlowClientError
  const code = slow ? 'SLOW_CONSUMER' : error instanceof SynclineError ? error.code : 'INTERNAL'
  const message = error instanceof Error ? error.message : String(error)
  if (socket.readyState === socket.OPEN) socket.send(redact(JSON.stringify({ type: 'error', code, message })))
  const config = error instanceof SynclineError && error.failure === 'config'
  // A close reason is at most 123 bytes; the error frame carries the whole message.
  socket.close(slow ? CLOSE.slow : config ? CLOSE.refused : CLOSE.failed, slow ? 'too slow' : code)
}

const querySchema = z.object({
  connection: z.string({ error: 'connection is missing: /feed?connection=NAME&entity=ENTITY' }).min(1),
  entity: z.string({ error: 'entity is missing: /feed?connection=NAME&entity=ENTITY' }).min(1),
  snapshot: z.enum(['true', 'false'], { error: 'snapshot is true or false' }).optional(),
  since: z.string().min(1, 'since is empty: give the position of the last event you handled').optional(),
  filter: z.string().optional(),
})

/** The query string checked; throws `PLAN_INVALID` naming the parameter. */
function parseRequest(query: Record<string, unknown>): FeedRequest {
  const parsed = querySchema.safeParse(query)
  if (!parsed.success) {
    throw badRequest(parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })))
  }
  const q = parsed.data
  const ask: FeedRequest = { connection: q.connection, entity: q.entity, snapshot: q.snapshot === 'true' }
  if (q.since !== undefined) {
    if (ask.snapshot) throw badRequest([{ path: 'since', message: 'snapshot=true and since cannot go together: a snapshot starts a new feed, since resumes one' }])
    ask.since = q.since
  }
  if (q.filter !== undefined) ask.filters = parseFilter(q.filter)
  return ask
}

function parseFilter(text: string): FilterPlan[] {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw badRequest([{ path: 'filter', message: `filter is not JSON; give the plan's filter syntax as JSON, e.g. [{"field":"Status","op":"=","value":"Active"}]` }])
  }
  const list = Array.isArray(json) ? json : [json]
  const parsed = z.array(filterSchema).safeParse(list)
  if (!parsed.success) {
    throw badRequest(parsed.error.issues.map((issue) => ({ path: ['filter', ...issue.path].join('.').replace(/\.(\d+)/g, '[$1]'), message: issue.message })))
  }
  return parsed.data
}

/** `PLAN_INVALID` naming each query parameter that is wrong (the request is the feed's "plan"). */
function badRequest(issues: PlanIssue[]): SynclineError {
  const lines = issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message))
  return new SynclineError('PLAN_INVALID', 'config', `The /feed request is not valid: ${lines.join('; ')}. See docs/daemon.md "Change feed".`, { details: { issues } })
}
