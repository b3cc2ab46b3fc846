/**
 * The dashboard of `syncline serve` (DESIGN §1.2): one static page at
 * `/dashboard` (and `/` redirects there) that shows every sync, its last
 * run and what it is doing, starts and cancels runs, lists a sync's
 * history and rejected records, and settles manual conflicts. It is a
 * client of the same HTTP API as any script: the page and its two assets
 * carry no data and are served without a token; the page asks for the
 * token and sends it as the bearer header on every API call.
 *
 * Strict Content-Security-Policy: only this origin's script and style,
 * no inline code, no frames; data is put into the page as text, never as
 * HTML, so a record value cannot run as script.
 */
import type { FastifyInstance, FastifyReply } from 'fastify'
import { DASHBOARD_HTML } from './page.js'
import { DASHBOARD_SCRIPT } from './script.js'
import { DASHBOARD_STYLE } from './style.js'

/** The paths of the dashboard, served without a token (they hold no data). */
export const DASHBOARD_PATHS: readonly string[] = ['/', '/dashboard', '/dashboard/app.js', '/dashboard/style.css']

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
}

/** Register the dashboard's page and assets. */
export function registerDashboard(app: FastifyInstance, opts: { authRequired: boolean }): void {
  const send = (reply: FastifyReply, type: string, body: string) => reply.headers(SECURITY_HEADERS).type(type).send(body)
  // The page learns whether to ask for a token from a meta tag, not from an API call that would need one.
  const html = DASHBOARD_HTML.replace('{{AUTH}}', opts.authRequired ? 'token' : 'none')
  app.get('/', async (_request, reply) => reply.redirect('/dashboard'))
  app.get('/dashboard', async (_request, reply) => send(reply, 'text/html; charset=utf-8', html))
  app.get('/dashboard/app.js', async (_request, reply) => send(reply, 'text/javascript; charset=utf-8', DASHBOARD_SCRIPT))
  app.get('/dashboard/style.css', async (_request, reply) => send(reply, 'text/css; charset=utf-8', DASHBOARD_STYLE))
}
