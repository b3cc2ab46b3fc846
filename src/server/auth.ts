/**
 * Bearer-token authentication of the daemon's API (DESIGN §1.5): every
 * request but `/health` and `/ready` carries `Authorization: Bearer TOKEN`
 * (a browser's WebSocket may pass `?token=` on `/feed` instead); anything
 * else is answered 401 before any route runs. The comparison takes the same
 * time whatever the token, so timing tells an attacker nothing.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { isIP } from 'node:net'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { SynclineError } from '../errors.js'
import { sendError } from './api-errors.js'
import { DASHBOARD_PATHS } from './dashboard/routes.js'

/** Paths answered without a token (probes of load balancers and orchestrators). */
export const OPEN_PATHS: readonly string[] = ['/health', '/ready']
/** The path where a `?token=` query parameter stands in for the header (browsers cannot set headers on WebSockets). */
export const QUERY_TOKEN_PATHS: readonly string[] = ['/feed']

/** Refuse every request without the token; called before any route is registered. */
export function requireToken(app: FastifyInstance, token: string): void {
  const expected = digest(token)
  app.addHook('onRequest', async (request, reply) => {
    const path = request.url.split('?')[0] ?? ''
    // The dashboard's page and assets hold no data; the page sends the token on its API calls.
    if (OPEN_PATHS.includes(path) || DASHBOARD_PATHS.includes(path)) return
    const given = presentedToken(request, path)
    if (given === undefined) {
      return sendError(reply, 401, 'UNAUTHORIZED', 'This API needs a bearer token: send the header Authorization: Bearer $SYNCLINE_TOKEN (the token the daemon was started with).')
    }
    if (!timingSafeEqual(digest(given), expected)) {
      return sendError(reply, 401, 'UNAUTHORIZED', 'The bearer token is not the one the daemon was started with (SYNCLINE_TOKEN).')
    }
  })
}

function presentedToken(request: FastifyRequest, path: string): string | undefined {
  const header = request.headers.authorization
  const match = typeof header === 'string' ? /^Bearer\s+(.+)$/i.exec(header.trim()) : null
  if (match) return match[1]
  if (QUERY_TOKEN_PATHS.includes(path)) {
    const query = request.query as Record<string, unknown> | undefined
    if (typeof query?.token === 'string' && query.token !== '') return query.token
  }
  return undefined
}

/** Equal-length digests, so `timingSafeEqual` never throws on a length mismatch. */
function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest()
}

/** Whether `host` is a loopback address or name (where `--no-auth` is allowed). */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '')
  if (bare === 'localhost') return true
  if (isIP(bare) === 4) return bare.startsWith('127.')
  if (isIP(bare) === 6) return bare === '::1'
  return false
}

/**
 * The token to require, or undefined for no authentication; throws a
 * `PLAN_INVALID`-free usage error (config) when the combination is unsafe.
 */
export function authSetting(opts: { token: string | undefined; noAuth: boolean; host: string }): string | undefined {
  if (opts.noAuth) {
    if (!isLoopback(opts.host)) {
      throw new SynclineError(
        'AUTH_FAILED',
        'config',
        `--no-auth is allowed only on a loopback address (127.0.0.1, ::1, localhost), not --host ${opts.host}: anyone who reaches that address could run and cancel syncs. Set SYNCLINE_TOKEN instead.`,
      )
    }
    return undefined
  }
  if (opts.token === undefined || opts.token === '') {
    throw new SynclineError(
      'AUTH_FAILED',
      'config',
      `syncline serve needs a token for its API: set SYNCLINE_TOKEN (e.g. export SYNCLINE_TOKEN=$(openssl rand -hex 32)), or pass --no-auth to serve on a loopback address without one.`,
    )
  }
  if (opts.token.length < 16) {
    throw new SynclineError('AUTH_FAILED', 'config', `SYNCLINE_TOKEN is ${opts.token.length} characters long; use at least 16 (e.g. openssl rand -hex 32).`)
  }
  return opts.token
}
