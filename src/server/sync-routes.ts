/**
 * `/api/syncs…` (DESIGN §1.5): list and show syncs with their status, start
 * a run (202 with its run id, 409 while one goes on), cancel it (202, 409
 * when none runs), run history and rejected records.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { didYouMean } from '../errors.js'
import type { Daemon } from '../scheduler/daemon.js'
import type { SyncSlot } from '../scheduler/sync-slot.js'
import { sendError } from './api-errors.js'
import { recordErrorView, runView, syncView } from './views.js'

const DEFAULT_LIMIT = 20
const MAX_LIMIT = 1000

type IdRequest = FastifyRequest<{ Params: { id: string }; Querystring: Record<string, string | undefined> }>

/** Register the sync routes. */
export function registerSyncRoutes(app: FastifyInstance, daemon: Daemon): void {
  const slotOf = (request: IdRequest, reply: FastifyReply): SyncSlot | undefined => {
    const slot = daemon.slots.get(request.params.id)
    if (!slot) {
      const ids = [...daemon.slots.keys()]
      sendError(reply, 404, 'SYNC_NOT_FOUND', `No sync '${request.params.id}' in the plan.${didYouMean(request.params.id, ids)} Known syncs: ${ids.join(', ') || '(none)'}.`)
    }
    return slot
  }
  const statuses = async () => new Map((await daemon.manager.status()).map((s) => [s.syncId, s]))

  app.get('/api/syncs', async () => {
    const states = await statuses()
    return [...daemon.slots.values()].map((slot) => syncView(daemon, slot, states.get(slot.plan.id)))
  })

  app.get('/api/syncs/:id', async (request: IdRequest, reply) => {
    const slot = slotOf(request, reply)
    if (!slot) return reply
    return syncView(daemon, slot, (await statuses()).get(slot.plan.id))
  })

  app.post('/api/syncs/:id/run', async (request: IdRequest, reply) => {
    const slot = slotOf(request, reply)
    if (!slot) return reply
    const body = (request.body ?? {}) as Record<string, unknown>
    const unknown = typeof body === 'object' && body !== null ? Object.keys(body).filter((k) => k !== 'full' && k !== 'dryRun') : ['(not an object)']
    if (unknown.length > 0 || ['full', 'dryRun'].some((k) => body[k] !== undefined && typeof body[k] !== 'boolean')) {
      return sendError(reply, 400, 'BAD_REQUEST', `The body may hold only {"full": true|false, "dryRun": true|false}${unknown.length > 0 ? `, not ${unknown.join(', ')}` : ''}.`)
    }
    // Another process (a `syncline run`, another daemon) may hold the sync's run lock.
    const lock = await daemon.manager.liveRunLock(slot.plan.id)
    if (lock && !slot.active) {
      return sendError(reply, 409, 'RUNNING', `Sync '${slot.plan.id}' is running in another process (pid ${lock.pid} on host ${lock.host}, run ${lock.runId}); try again when it has finished.`)
    }
    const started = daemon.trigger(slot.plan.id, { full: body.full === true, dryRun: body.dryRun === true })
    if (started === 'stopping') return sendError(reply, 409, 'STOPPING', 'The daemon is stopping; it starts no new runs.')
    if (started === 'running') {
      return sendError(reply, 409, 'RUNNING', `Sync '${slot.plan.id}' is running (run ${slot.active?.runId ?? 'unknown'}); cancel it first (POST /api/syncs/${slot.plan.id}/cancel) or wait for it to finish.`)
    }
    return reply.code(202).send({ runId: started.firstRunId })
  })

  app.post('/api/syncs/:id/cancel', async (request: IdRequest, reply) => {
    const slot = slotOf(request, reply)
    if (!slot) return reply
    const runId = slot.active?.runId
    if (!daemon.cancel(slot.plan.id)) return sendError(reply, 409, 'NOT_RUNNING', `Sync '${slot.plan.id}' is not running in this daemon; there is nothing to cancel.`)
    return reply.code(202).send({ runId })
  })

  app.get('/api/syncs/:id/runs', async (request: IdRequest, reply) => {
    const slot = slotOf(request, reply)
    if (!slot) return reply
    const limit = limitOf(request, reply)
    if (limit === undefined) return reply
    return (await daemon.manager.history(slot.plan.id, limit)).map(runView)
  })

  app.get('/api/syncs/:id/errors', async (request: IdRequest, reply) => {
    const slot = slotOf(request, reply)
    if (!slot) return reply
    const limit = limitOf(request, reply)
    if (limit === undefined) return reply
    const runId = request.query.runId
    return (await daemon.manager.recordErrors({ syncId: slot.plan.id, limit, ...(runId ? { runId } : {}) })).map(recordErrorView)
  })
}

/** `?limit=N` (1-1000, default 20), or undefined after answering 400. */
function limitOf(request: IdRequest, reply: FastifyReply): number | undefined {
  const text = request.query.limit
  if (text === undefined) return DEFAULT_LIMIT
  const limit = Number(text)
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    sendError(reply, 400, 'BAD_REQUEST', `limit must be a whole number from 1 to ${MAX_LIMIT}, not '${text}'.`)
    return undefined
  }
  return limit
}
