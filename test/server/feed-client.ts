/**
 * A WebSocket client of the daemon's `/feed` for tests (the `ws` package):
 * every frame parsed and kept, waits for a message or the close, and the
 * HTTP status of a refused upgrade.
 */
import { createRequire } from 'node:module'
import { TEST_TOKEN, waitFor } from './daemon-process.js'

/** What the tests use of a `ws` client socket (the package ships no types). */
interface WsSocket {
  readonly bufferedAmount: number
  close(): void
  terminate(): void
  pause(): void
  resume(): void
  on(event: 'message', listener: (data: Buffer) => void): void
  on(event: 'close', listener: (code: number, reason: Buffer) => void): void
  on(event: 'unexpected-response', listener: (request: unknown, response: { statusCode: number; on(e: 'data', l: (c: Buffer) => void): void }) => void): void
  on(event: 'open' | 'error', listener: (error?: Error) => void): void
}
type WsConstructor = new (url: string, opts?: { headers?: Record<string, string> }) => WsSocket
const WebSocket = createRequire(import.meta.url)('ws') as WsConstructor

/** One frame of the feed. */
export type FeedMessage = { type: string; position?: string; code?: string; message?: string; recordId?: string; record?: Record<string, unknown>; key?: Record<string, unknown> } & Record<string, unknown>

/** A connected (or refused) client. */
export interface FeedClient {
  socket: WsSocket
  messages: FeedMessage[]
  /** Resolves with the close code and reason once the socket closed. */
  closed: Promise<{ code: number; reason: string }>
  /** The HTTP status when the upgrade was refused. */
  refusedStatus: Promise<number | undefined>
  /** Wait until `count` messages matching `test` arrived. */
  waitFor(test: (m: FeedMessage) => boolean, count?: number, ms?: number): Promise<FeedMessage[]>
  close(): Promise<void>
}

/**
 * Connect to `/feed` with `query`; the token goes in the header, or with
 * `token: { query: … }` in `?token=`, or not at all with `token: null`.
 */
export function connectFeed(baseUrl: string, query: Record<string, string>, opts: { token?: string | null | { query: string } } = {}): FeedClient {
  const params = new URLSearchParams(query)
  const headers: Record<string, string> = {}
  const token = opts.token === undefined ? TEST_TOKEN : opts.token
  if (typeof token === 'string') headers.authorization = `Bearer ${token}`
  else if (token !== null) params.set('token', token.query)
  const socket = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/feed?${params}`, { headers })
  const messages: FeedMessage[] = []
  let refused: (status: number | undefined) => void = () => undefined
  const refusedStatus = new Promise<number | undefined>((resolve) => (refused = resolve))
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    socket.on('close', (code, reason) => {
      refused(undefined)
      resolve({ code, reason: reason.toString() })
    })
    socket.on('error', () => resolve({ code: -1, reason: 'error' }))
  })
  socket.on('message', (data) => messages.push(JSON.parse(data.toString()) as FeedMessage))
  socket.on('unexpected-response', (_request, response) => {
    refused(response.statusCode)
    response.on('data', () => undefined)
  })
  socket.on('error', () => undefined)
  return {
    socket,
    messages,
    closed,
    refusedStatus,
    async waitFor(test, count = 1, ms = 20_000) {
      return waitFor(() => {
        const found = messages.filter(test)
        return found.length >= count ? found : undefined
      }, ms, `${count} feed message(s) (have ${messages.length}: ${JSON.stringify(messages.slice(-3))})`)
    },
    async close() {
      socket.close()
      await Promise.race([closed, new Promise((r) => setTimeout(r, 3000))])
      socket.terminate()
    },
  }
}
