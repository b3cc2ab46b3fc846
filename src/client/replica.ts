/**
 * A live replica of one entity over the daemon's `/feed`: a snapshot first,
 * then change events applied as they come; after a drop it reconnects with
 * backoff and resumes with `since=` the last position it applied, so the
 * seam neither repeats nor loses an event (the daemon guarantees that for a
 * `since` it sent). When the daemon no longer has that position
 * (`POSITION_LOST`) or sends `reset`, the client reads a fresh snapshot and
 * swaps it in whole once it is complete, so `rows` is never half a snapshot.
 */
import { SynclineError } from '../errors.js'
import { backoffDelay } from './backoff.js'
import { FATAL_CODES, RESNAPSHOT_CODES, recordIdOf, type FeedChange, type FeedFrame, type FeedRecord } from './frames.js'
import { resolveWebSocket, type WebSocketConstructor, type WebSocketLike } from './websocket.js'

/** A filter in the plan's syntax (DESIGN §1.1): `{ field: 'Status', op: '=', value: 'Active' }`. */
export interface FeedFilter {
  field: string
  op: '=' | '!=' | '>' | '>=' | '<' | '<=' | 'in' | 'not_in' | 'like' | 'is_null' | 'is_not_null'
  value?: unknown
}

/** What {@link subscribe} takes. */
export interface SubscribeOptions {
  /** The daemon: `http://host:7070` (or `ws://…`, or the `/feed` URL itself). */
  url: string
  /** The daemon's token (`SYNCLINE_TOKEN`); sent as `?token=`, since browsers cannot set WebSocket headers. */
  token?: string
  /** The connection's name in the daemon's plan. */
  connection: string
  entity: string
  /** Keep only the records that pass (all of them, for a list). */
  filter?: FeedFilter | FeedFilter[]
  /** Called after each change is applied, with the record as it was before (undefined for a record the replica did not hold). */
  onChange?: (event: FeedChange, previous: FeedRecord | undefined) => void
  /** Called when a snapshot replaced `rows` (the first one, and each after a reset). */
  onSnapshot?: (rows: ReadonlyMap<string, FeedRecord>) => void
  /** Called on every drop or error frame, whether the client reconnects or gives up. */
  onError?: (error: SynclineError) => void
  /** A WebSocket constructor; default the global one, else (Node 20) the `ws` package. */
  WebSocket?: WebSocketConstructor
  /** First reconnect delay, doubled each failed attempt (default 500 ms)… */
  minDelayMs?: number
  /** …up to this (default 30 s). */
  maxDelayMs?: number
  /**
   * Ask the daemon for a `heartbeat` frame after this long without another
   * (default 15 s): a connection silent for twice as long (plus 5 s) is
   * taken for dead (a daemon gone without a close) and is reconnected.
   */
  heartbeatMs?: number
}

/** A live replica. */
export interface Replica {
  /** The records by `recordId`; kept up to date. Treat as read-only. */
  readonly rows: Map<string, FeedRecord>
  /** Resolves once the first snapshot is in `rows`; rejects when the request cannot be served (unknown entity, bad filter, wrong token) or on close() before that. */
  readonly ready: Promise<void>
  /** The position of the last frame applied (what a reconnect resumes from). */
  readonly position: string | undefined
  /** Whether a feed connection is open right now. */
  readonly connected: boolean
  /** Stop: close the socket and never reconnect. */
  close(): void
}

/**
 * Subscribe to one entity of a `syncline serve` daemon.
 * @example
 * import { subscribe } from 'syncline/client'
 * const customers = subscribe({ url: 'http://127.0.0.1:7070', token, connection: 'shop', entity: 'Customer',
 *   onChange: (event) => console.log(event.type, event.recordId) })
 * await customers.ready
 * console.log(customers.rows.size)
 * customers.close()
 */
export function subscribe(opts: SubscribeOptions): Replica {
  const base = checkOptions(opts)
  const minDelay = opts.minDelayMs ?? 500
  const maxDelay = opts.maxDelayMs ?? 30_000
  const heartbeatMs = Math.max(1000, opts.heartbeatMs ?? 15_000)
  const rows = new Map<string, FeedRecord>()
  let position: string | undefined
  let staging: Map<string, FeedRecord> | undefined
  let socket: WebSocketLike | undefined
  let connected = false
  let closed = false
  let attempt = 0
  let timer: ReturnType<typeof setTimeout> | undefined
  /** Stops the heartbeat watchdog of the current connection. */
  let disarm: (() => void) | undefined
  let settle: { resolve: () => void; reject: (error: unknown) => void } | undefined
  const ready = new Promise<void>((resolve, reject) => (settle = { resolve, reject }))
  // Callers that never await `ready` must not get an unhandled rejection.
  ready.catch(() => undefined)
  const settleReady = (error?: SynclineError) => {
    if (settle === undefined) return
    if (error === undefined) settle.resolve()
    else settle.reject(error)
    settle = undefined
  }

  const report = (error: SynclineError) => {
    try {
      opts.onError?.(error)
    } catch {
      // A throwing callback must not stop the replica.
    }
  }

  const apply = (event: FeedChange) => {
    const target = staging ?? rows
    let previous = target.get(event.recordId)
    if (event.previousKey !== undefined) {
      const oldId = recordIdOf(event.previousKey)
      previous = target.get(oldId)
      target.delete(oldId)
    }
    if (event.type === 'delete') target.delete(event.recordId)
    else if (event.record !== undefined) target.set(event.recordId, event.record)
    position = event.position
    if (staging === undefined) opts.onChange?.(event, previous)
  }

  const onFrame = (frame: FeedFrame, state: { fatal?: SynclineError }) => {
    switch (frame.type) {
      case 'snapshot':
        ;(staging ??= new Map()).set(frame.recordId, frame.record)
        return
      case 'heartbeat':
        return
      case 'reset':
        // The position was older than the daemon's replay window: a fresh snapshot follows.
        staging = new Map()
        return
      case 'ready':
        if (staging !== undefined) {
          rows.clear()
          for (const [id, record] of staging) rows.set(id, record)
          staging = undefined
          opts.onSnapshot?.(rows)
        }
        position = frame.position
        attempt = 0
        settleReady()
        return
      case 'error': {
        const error = new SynclineError(knownCode(frame.code), FATAL_CODES.has(frame.code) ? 'config' : 'transient', `The daemon's feed said: ${frame.message}`)
        if (FATAL_CODES.has(frame.code)) state.fatal = error
        // The daemon cannot resume from our position: start over with a snapshot.
        if (RESNAPSHOT_CODES.has(frame.code)) position = undefined
        report(error)
        return
      }
      default:
        apply(frame)
    }
  }

  const connect = async () => {
    timer = undefined
    if (closed) return
    let Ctor: WebSocketConstructor
    try {
      Ctor = await resolveWebSocket(opts.WebSocket)
    } catch (error) {
      closed = true
      report(error as SynclineError)
      settleReady(error as SynclineError)
      return
    }
    if (closed) return
    const params: Record<string, string> = { heartbeat: String(heartbeatMs / 1000) }
    if (position === undefined) {
      params.snapshot = 'true'
      staging = new Map()
    } else {
      params.since = position
    }
    const ws = (socket = new Ctor(feedUrl(base, opts, params)))
    const state: { fatal?: SynclineError } = {}
    // Silence longer than two heartbeats: the daemon or the network is gone without a close; a close may never come, so drop it here.
    let watchdog: ReturnType<typeof setTimeout> | undefined
    const stopWatchdog = () => {
      if (watchdog !== undefined) clearTimeout(watchdog)
      watchdog = undefined
    }
    const armWatchdog = () => {
      stopWatchdog()
      watchdog = setTimeout(() => {
        if (ws !== socket || closed) return
        const terminate = (ws as { terminate?: () => void }).terminate
        if (terminate !== undefined) terminate.call(ws)
        else ws.close(4000, 'no heartbeat')
        dropped(ws, { code: 4000, reason: `nothing received for ${2 * heartbeatMs + 5000} ms` })
      }, 2 * heartbeatMs + 5000)
    }
    disarm = stopWatchdog
    armWatchdog()
    ws.onopen = () => {
      connected = true
      armWatchdog()
    }
    ws.onmessage = (message) => {
      if (ws !== socket || typeof message.data !== 'string') return
      armWatchdog()
      onFrame(JSON.parse(message.data) as FeedFrame, state)
    }
    ws.onerror = (event) => {
      // `ws` names the HTTP status of a refused upgrade; a browser says nothing (it then retries with backoff).
      const text = String((event as { message?: unknown }).message ?? '')
      if (/\b401\b/.test(text)) {
        state.fatal = new SynclineError('AUTH_FAILED', 'config', `The daemon refused the feed's token (HTTP 401): pass the daemon's SYNCLINE_TOKEN as token.`)
      }
    }
    const dropped = (from: WebSocketLike, event: { code: number; reason: string }) => {
      stopWatchdog()
      if (from !== socket) return
      socket = undefined
      connected = false
      if (closed) return
      if (state.fatal !== undefined) {
        closed = true
        if (state.fatal.code === 'AUTH_FAILED') report(state.fatal)
        settleReady(state.fatal)
        return
      }
      report(new SynclineError('CONNECTION_LOST', 'transient', `The feed connection closed (code ${event.code}${event.reason ? `, ${event.reason}` : ''}); reconnecting.`))
      timer = setTimeout(() => void connect(), backoffDelay(attempt++, minDelay, maxDelay))
    }
    ws.onclose = (event) => dropped(ws, event)
  }
  void connect()

  return {
    rows,
    ready,
    get position() {
      return position
    },
    get connected() {
      return connected
    },
    close() {
      if (closed) return
      closed = true
      if (timer !== undefined) clearTimeout(timer)
      disarm?.()
      const ws = socket
      socket = undefined
      connected = false
      ws?.close(1000, 'closed by the client')
      settleReady(new SynclineError('CANCELLED', 'config', 'The replica was closed before its snapshot was complete.'))
    },
  }
}

/** Check what can be checked before connecting; throws `PLAN_INVALID` naming the option. */
function checkOptions(opts: SubscribeOptions): URL {
  const problem = (message: string) => new SynclineError('PLAN_INVALID', 'config', `subscribe(): ${message}`)
  if (typeof opts.connection !== 'string' || opts.connection === '') throw problem("connection is missing: give the connection's name in the daemon's plan")
  if (typeof opts.entity !== 'string' || opts.entity === '') throw problem('entity is missing: give the table or entity to replicate')
  let url: URL
  try {
    url = new URL(opts.url)
  } catch {
    throw problem(`url '${opts.url}' is not a URL; give the daemon's address, e.g. http://127.0.0.1:7070`)
  }
  if (!['http:', 'https:', 'ws:', 'wss:'].includes(url.protocol)) throw problem(`url '${opts.url}' is not http(s) or ws(s); give the daemon's address, e.g. http://127.0.0.1:7070`)
  return url
}

/** `ws(s)://…/feed?connection=…` for one connection attempt. */
function feedUrl(base: URL, opts: SubscribeOptions, extra: Record<string, string>): string {
  const url = new URL(base.href)
  if (url.protocol === 'http:') url.protocol = 'ws:'
  if (url.protocol === 'https:') url.protocol = 'wss:'
  if (!url.pathname.endsWith('/feed')) url.pathname = `${url.pathname.replace(/\/$/, '')}/feed`
  url.searchParams.set('connection', opts.connection)
  url.searchParams.set('entity', opts.entity)
  if (opts.filter !== undefined) url.searchParams.set('filter', JSON.stringify(opts.filter))
  if (opts.token !== undefined) url.searchParams.set('token', opts.token)
  for (const [name, value] of Object.entries(extra)) url.searchParams.set(name, value)
  return url.href
}

/** The daemon's code when syncline knows it, else `INTERNAL` (a newer daemon may send codes this client does not know). */
function knownCode(code: string): SynclineError['code'] {
  return /^[A-Z_]+$/.test(code) ? (code as SynclineError['code']) : 'INTERNAL'
}
