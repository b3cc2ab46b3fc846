/**
 * `/api/conflicts` (DESIGN §1.5): the two-way conflicts waiting for a person
 * (`conflict: manual`), and settling one by taking a side, as
 * `syncline conflicts` and `conflicts resolve ID --take …` do.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { SynclineError } from '../errors.js'
import type { ConflictSide } from '../engine/conflict-queue.js'
import type { Daemon } from '../scheduler/daemon.js'
import type { StoredConflict } from '../state/two-way-state.js'
import { sendError } from './api-errors.js'
import { toJson } from './views.js'

const SIDES: readonly ConflictSide[] = ['source', 'destination']

/** One conflict as the API shows it: `{id, syncId, recordId, source, destination, base, detectedAt}` (+ `kind`, and `resolvedAt`/`resolution` once settled). */
function conflictView(conflict: StoredConflict): unknown {
  const { id, syncId, recordId, kind, source, destination, base, detectedAt, resolvedAt, resolution } = conflict
  return toJson({ id, syncId, recordId, kind, source, destination, base, detectedAt, ...(resolvedAt ? { resolvedAt, resolution } : {}) })
}

type ResolveRequest = FastifyRequest<{ Params: { id: string }; Body: { take?: unknown } | undefined }>

/** Register the conflict routes. */
export function registerConflictRoutes(app: FastifyInstance, daemon: Daemon): void {
  app.get('/api/conflicts', async (request: FastifyRequest<{ Querystring: { syncId?: string } }>) => {
    const syncId = request.query.syncId
    return (await daemon.manager.conflicts(syncId ? { syncId } : {})).map(conflictView)
  })

  app.post('/api/conflicts/:id/resolve', async (request: ResolveRequest, reply) => {
    const take = request.body?.take
    if (typeof take !== 'string' || !SIDES.includes(take as ConflictSide)) {
      return sendError(reply, 400, 'BAD_REQUEST', `Send {"take": "source"} or {"take": "destination"}${take === undefined ? '' : `, not ${JSON.stringify(take)}`}.`)
    }
    try {
      return conflictView(await daemon.manager.resolveConflict(request.params.id, take as ConflictSide))
    } catch (error) {
      if (error instanceof SynclineError && error.code === 'CONFLICT_NOT_FOUND') return sendError(reply, 404, error.code, error.message)
      // A run of the sync holds its lock, or the plan no longer allows it: try again later or fix the plan.
      if (error instanceof SynclineError && (error.code === 'LOCKED' || error.failure === 'config')) return sendError(reply, 409, error.code, error.message)
      throw error
    }
  })
}
