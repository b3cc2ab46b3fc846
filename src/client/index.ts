/**
 * `syncline/client`: a live replica of one entity from a `syncline serve`
 * daemon's WebSocket feed, for browsers and Node. No Node-only imports here:
 * in Node 20 (no global WebSocket) the `ws` package is loaded on first use.
 * @example
 * import { subscribe } from 'syncline/client'
 * const replica = subscribe({ url: 'http://127.0.0.1:7070', token, connection: 'shop', entity: 'Customer' })
 * await replica.ready
 */
export { subscribe, type FeedFilter, type Replica, type SubscribeOptions } from './replica.js'
export type { FeedChange, FeedRecord } from './frames.js'
export type { WebSocketConstructor, WebSocketLike } from './websocket.js'
export { SynclineError, type ErrorCode } from '../errors.js'
