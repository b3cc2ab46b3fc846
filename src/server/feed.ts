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
import type { Filter } from '../connectors/connector.js'
import { SynclineError, type PlanIssue } from '../errors.js'
import { filterSchema, type FilterPlan } from '../plan/schema.js'
import { matchesFilters } from '../mapping/filters.js'
import type { Daemon } from '../scheduler/daemon.js'
import type { Row } from '../values/canonical.js'
import { filterEvent } from './feed-filter.js'
import { FeedHub, type Capture } from './feed-hub.js'

/** Flow control of one feed client. */
export interface FeedOptions {
  /** Events wait while more than this many bytes are unsent to the client (default 1 MiB). */
  highWaterBytes: number
  /** Disconnect a client at once when this many bytes are unsent (default 16 MiB). */
  maxBufferedBytes: number
  /** Disconnect a client whose unsent bytes stayed above `highWaterBytes` this long (default 10 s). */
  slowTimeoutMs: number
  /** Ping every client this often and drop one that did not answer the previous ping (default 30 s). */
  heartbeatMs: number
}

/** The defaults, overridable by `SYNCLINE_FEED_HIGH_WATER`, `SYNCLINE_FEED_MAX_BUFFER` (bytes), `SYNCLINE_FEED_SLOW_TIMEOUT`, `SYNCLINE_FEED_HEARTBEAT` (ms). */
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
    heartbeatMs: Math.max(100, number('SYNCLINE_FEED_HEARTBEAT', 30_000)),
  }
}

/** What the feed uses of a `ws` socket (the package ships no types and @types/ws is not installed). */
interface WebSocket {
  readonly bufferedAmount: number
  readonly readyState: number
  readonly OPEN: number
  send(data: string): void
  close(code: number, reason: string): void
  ping(): void
  terminate(): void
  /** The TCP socket under it (`ws` internals), corked while a batch of frames is written. */
  readonly _socket?: { cork(): void; uncork(): void }
  on(event: 'close' | 'pong', listener: () => void): void
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
  /** `heartbeat=SECONDS`: send `{"type":"heartbeat"}` after this long without a frame. */
  heartbeatMs?: number
}

/** Register `/feed` (and @fastify/websocket); after `requireToken`. The hub's captures stop when the app closes. */
export async function registerFeed(app: FastifyInstance, daemon: Daemon, opts: FeedOptions): Promise<FeedHub> {
  // maxPayload: clients send nothing the feed reads; a large frame is only a way to use memory.
  const clients = new Set<WebSocket>()
  const hub = new FeedHub(daemon.manager, daemon.logger, daemon.metrics)
  await app.register(websocket, {
    options: { maxPayload: 64 * 1024 },
    // The plugin's own preClose closes clients without a code (1005); say why instead.
    preClose(done) {
      for (const client of clients) client.close(CLOSE.goingAway, 'the daemon is stopping')
      done()
    },
  })
  // A client that answers no ping for a whole interval is gone (its network dropped without a close): let it go.
  const alive = new WeakSet<WebSocket>()
  const heartbeat = setInterval(() => {
    for (const client of clients) {
      if (!alive.has(client)) {
        daemon.logger.info({ heartbeatMs: opts.heartbeatMs }, 'feed client answered no ping; dropped')
        client.terminate()
        continue
      }
      alive.delete(client)
      client.ping()
    }
  }, opts.heartbeatMs)
  heartbeat.unref()
  app.addHook('onReady', async () => hub.startPlanFeeds())
  app.addHook('onClose', async () => {
    clearInterval(heartbeat)
    await hub.close()
  })
  app.get('/feed', { websocket: true }, (raw, request) => {
    const socket = raw as WebSocket
    clients.add(socket)
    alive.add(socket)
    socket.on('pong', () => alive.add(socket))
    socket.on('close', () => clients.delete(socket))
    void serveClient(socket, request.query as Record<string, unknown>, daemon, hub, opts)
  })
  return hub
}

/** Events a client reads from the capture at once. */
const READ_BATCH = 500

async function serveClient(socket: WebSocket, query: Record<string, unknown>, daemon: Daemon, hub: FeedHub, opts: FeedOptions): Promise<void> {
  let closed = false
  socket.on('close', () => {
    closed = true
  })
  let ask: FeedRequest
  try {
    ask = parseRequest(query)
  } catch (error) {
    failClient(socket, error)
    return
  }
  const labels = { connection: ask.connection, entity: ask.entity }
  // Counted once the entity proved to exist (its capture is ready): a label per mistyped name would pile up series.
  let counted = false
  socket.on('close', () => {
    if (counted) daemon.metrics.feedClients.dec(labels)
  })
  let lastSent = Date.now()
  const send = (message: unknown) => {
    if (closed) return
    socket.send(typeof message === 'string' ? message : redact(JSON.stringify(message, jsonReplacer)))
    lastSent = Date.now()
  }
  // Each message waits while the client has too much unsent; a client that stays behind is let go.
  const deliver = async (message: unknown) => {
    send(message)
    await keepUp(socket, opts, () => closed)
  }
  // `heartbeat=SECONDS`: a `{"type":"heartbeat"}` whenever nothing else was sent that long, so the client can tell a dead daemon from a quiet entity.
  let heartbeat: NodeJS.Timeout | undefined
  if (ask.heartbeatMs !== undefined) {
    const every = ask.heartbeatMs
    heartbeat = setInterval(() => {
      if (Date.now() - lastSent >= every - 50) send({ type: 'heartbeat' })
    }, Math.max(250, Math.floor(every / 2)))
    socket.on('close', () => clearInterval(heartbeat))
  }
  daemon.logger.debug({ ...labels, snapshot: ask.snapshot, since: ask.since !== undefined }, 'feed client connected')
  try {
    const capture = hub.capture(ask.connection, ask.entity)
    await capture.ready
    if (closed) return
    const filters = ask.filters === undefined || ask.filters.length === 0 ? [] : capture.resolveFilters(ask.filters)
    counted = true
    daemon.metrics.feedClients.inc(labels)
    let cursor: number
    const resume = ask.since === undefined ? undefined : capture.resumeFrom(ask.since)
    const since = typeof resume === 'number' ? resume : undefined
    if (typeof resume === 'string') {
      // Older than the replay window, of an earlier capture, or not ours: the client starts over.
      daemon.logger.info({ ...labels, since: ask.since, reason: resume }, 'feed position not in the replay log; reset and a fresh snapshot')
      send({ type: 'reset' })
      cursor = await deliverSnapshot(capture, filters, deliver, () => closed)
    } else if (since !== undefined) cursor = since
    else if (ask.snapshot) cursor = await deliverSnapshot(capture, filters, deliver, () => closed)
    else cursor = capture.seq
    send({ type: 'ready', position: capture.positionOf(cursor) })
    const raw = socket._socket
    while (!closed) {
      const events = capture.eventsAfter(cursor, READ_BATCH)
      if (events.length === 0) {
        if (!capture.running) break
        await capture.changed()
        continue
      }
      // The frames of a batch go out in one write (corked), except when the client is behind and must be waited for.
      raw?.cork()
      try {
        for (const logged of events) {
          if (closed) break
          if (filters.length === 0) {
            logged.frame ??= redact(JSON.stringify(logged.event, jsonReplacer))
            send(logged.frame)
          } else {
            const seen = filterEvent(logged.event, filters, capture.fieldTypes)
            if (seen !== undefined) send(seen)
          }
          cursor = logged.seq
          if (socket.bufferedAmount > opts.highWaterBytes) {
            raw?.uncork()
            await keepUp(socket, opts, () => closed)
            raw?.cork()
          }
        }
      } finally {
        raw?.uncork()
      }
    }
    if (closed) return
    if (capture.failed !== undefined) failClient(socket, capture.failed)
    // Ended without the client leaving: the daemon stops (the hub closes its captures).
    else socket.close(CLOSE.goingAway, 'the daemon is stopping')
  } catch (error) {
    if (error instanceof SlowClientError) {
      daemon.logger.warn({ ...labels, bufferedBytes: socket.bufferedAmount }, 'feed client too slow; disconnected')
    }
    if (!closed) failClient(socket, error)
  } finally {
    if (heartbeat !== undefined) clearInterval(heartbeat)
  }
}

/** The capture's rows (those passing the client's filters) as `snapshot` frames; returns the sequence number they are as of. */
async function deliverSnapshot(capture: Capture, filters: Filter[], deliver: (message: unknown) => Promise<void>, closed: () => boolean): Promise<number> {
  const snapshot = capture.openSnapshot()
  try {
    const { keys } = snapshot
    for (const page of snapshot.pages) {
      for (const { recordId, record } of page) {
        if (closed()) return snapshot.seq
        if (filters.length > 0 && !matchesFilters(record, filters, capture.fieldTypes)) continue
        const key: Row = {}
        for (const field of keys) key[field] = record[field] ?? null
        await deliver({ type: 'snapshot', recordId, key, record })
      }
    }
    return snapshot.seq
  } finally {
    snapshot.close()
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
  heartbeat: z.string().regex(/^\d+(\.\d+)?$/, 'heartbeat is the seconds between heartbeat frames, e.g. heartbeat=15').optional(),
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
  if (q.heartbeat !== undefined) ask.heartbeatMs = Math.max(1000, Number(q.heartbeat) * 1000)
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
