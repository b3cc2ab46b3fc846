/**
 * The WebSocket the client talks through: the one the caller passes, else the
 * runtime's global (browsers, Node 22+), else the `ws` package in Node 20,
 * loaded only then so a browser bundle never pulls it in.
 */
import { SynclineError } from '../errors.js'

/** What the client uses of a WebSocket: the browser API, which `ws` also implements. */
export interface WebSocketLike {
  readonly readyState: number
  onopen: ((event: unknown) => void) | null
  onmessage: ((event: { data: unknown }) => void) | null
  onclose: ((event: { code: number; reason: string }) => void) | null
  onerror: ((event: unknown) => void) | null
  close(code?: number, reason?: string): void
}

/** A WebSocket constructor: `globalThis.WebSocket`, or `ws`'s default export. */
export type WebSocketConstructor = new (url: string) => WebSocketLike

/** The constructor to use; throws `CAPABILITY_MISSING` when the runtime has none and `ws` is not installed. */
export async function resolveWebSocket(given?: WebSocketConstructor): Promise<WebSocketConstructor> {
  if (given !== undefined) return given
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
  if (global !== undefined) return global
  // A variable specifier: bundlers leave it alone, and TypeScript does not need `ws` types.
  const specifier = 'ws'
  try {
    const module = (await import(/* @vite-ignore */ specifier)) as { default?: WebSocketConstructor; WebSocket?: WebSocketConstructor }
    const found = module.WebSocket ?? module.default
    if (found !== undefined) return found
  } catch (error) {
    throw noWebSocket(error)
  }
  throw noWebSocket(undefined)
}

function noWebSocket(cause: unknown): SynclineError {
  return new SynclineError(
    'CAPABILITY_MISSING',
    'config',
    'syncline/client found no WebSocket: this runtime has no global WebSocket and the ws package could not be loaded. ' +
      "Install ws (npm install ws), or pass one: subscribe({ …, WebSocket: (await import('ws')).WebSocket }).",
    { cause },
  )
}
