/**
 * Probes and metrics: `/health` (the process lives), `/ready` (the plan is
 * loaded and the state store answers; 503 with the reason otherwise),
 * `/metrics` (Prometheus text).
 */
import type { FastifyInstance } from 'fastify'
import type { Daemon } from '../scheduler/daemon.js'
import { apiError } from './api-errors.js'

/** How long `/ready` waits for the state store before answering 503. */
const READY_TIMEOUT_MS = 3000

/** Register `/health`, `/ready` and `/metrics`. */
export function registerHealthRoutes(app: FastifyInstance, daemon: Daemon): void {
  app.get('/health', async () => ({ status: 'ok' }))

  app.get('/ready', async (_request, reply) => {
    if (daemon.isStopping) return reply.code(503).send({ status: 'unavailable', ...apiError('STOPPING', 'The daemon is stopping.') })
    try {
      await withTimeout(daemon.manager.history(undefined, 1), READY_TIMEOUT_MS)
      return { status: 'ready' }
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error)
      return reply.code(503).send({ status: 'unavailable', ...apiError('NOT_READY', `The state store does not answer: ${message}`) })
    }
  })

  app.get('/metrics', async (_request, reply) => {
    await daemon.refreshStreamMetrics()
    reply.type(daemon.metrics.registry.contentType)
    return daemon.metrics.text()
  })
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}
