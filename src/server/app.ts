/**
 * The daemon's HTTP server (fastify): authentication first, then the
 * probes, metrics and `/api/syncs` routes; unknown paths and failures in
 * the one error shape, and the dashboard's page (`/dashboard`). The WebSocket feed (`/feed`) registers here too
 * (@fastify/websocket), behind the same token check.
 *
 * @example
 * const app = await buildServer({ daemon, token: process.env.SYNCLINE_TOKEN })
 * await app.listen({ port: 7070, host: '127.0.0.1' })
 */
import Fastify, { type FastifyInstance } from 'fastify'
import { redact } from '../cli/output.js'
import type { Daemon } from '../scheduler/daemon.js'
import { sendError } from './api-errors.js'
import { requireToken } from './auth.js'
import { registerDashboard } from './dashboard/routes.js'
import { registerConflictRoutes } from './conflict-routes.js'
import { feedOptions, registerFeed, type FeedOptions } from './feed.js'
import { registerHealthRoutes } from './health-routes.js'
import { registerSyncRoutes } from './sync-routes.js'

/** Options of {@link buildServer}. */
export interface ServerOptions {
  daemon: Daemon
  /** The bearer token every request but /health and /ready must carry; undefined: none (loopback with --no-auth only). */
  token: string | undefined
  /** Flow control of `/feed` clients (default from the environment, {@link feedOptions}). */
  feed?: FeedOptions
}

/** A fastify instance with every route; not listening yet. */
export async function buildServer(opts: ServerOptions): Promise<FastifyInstance> {
  const { daemon } = opts
  // Requests are logged by our own logger (with secrets redacted), at debug.
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 })
  if (opts.token !== undefined) requireToken(app, opts.token)
  // `Content-Type: application/json` with no body (many HTTP clients send it on a bare POST) means "no options".
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = String(body)
    if (text.trim() === '') return done(null, undefined)
    try {
      done(null, JSON.parse(text))
    } catch {
      done(Object.assign(new Error('The request body is not valid JSON.'), { statusCode: 400 }), undefined)
    }
  })
  app.addHook('onResponse', async (request, reply) => {
    daemon.logger.debug({ method: request.method, path: request.url.split('?')[0], status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request')
  })
  // Second line of defence: no answer carries a secret of the plan (messages are written not to).
  app.addHook('onSend', async (_request, _reply, payload) => (typeof payload === 'string' ? redact(payload) : payload))
  app.setNotFoundHandler((request, reply) => sendError(reply, 404, 'NOT_FOUND', `No such API path: ${request.method} ${request.url.split('?')[0]}. See docs/daemon.md for the API.`))
  app.setErrorHandler((error: { statusCode?: number; message?: string }, request, reply) => {
    const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500
    if (status === 500) daemon.logger.error({ path: request.url.split('?')[0], error: error.message }, 'request failed')
    return sendError(reply, status, status === 500 ? 'INTERNAL' : 'BAD_REQUEST', error.message ?? 'failed')
  })
  registerHealthRoutes(app, daemon)
  registerSyncRoutes(app, daemon)
  registerConflictRoutes(app, daemon)
  registerDashboard(app, { authRequired: opts.token !== undefined })
  await registerFeed(app, daemon, opts.feed ?? feedOptions(process.env))
  return app
}
