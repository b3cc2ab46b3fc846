/**
 * `syncline serve [--port 7070] [--host 127.0.0.1] [--no-auth] [--log-level info]`:
 * the daemon. Runs scheduled syncs on their cron, keeps realtime syncs
 * streaming, and answers the HTTP API (docs/daemon.md). SIGTERM or SIGINT
 * stops it gracefully (batches in flight finish, state saved, exit 0); a
 * second one exits at once, its runs marked failed (interrupted).
 */
import type { LevelWithSilent } from 'pino'
import { SynclineError } from '../errors.js'
import { Daemon } from '../scheduler/daemon.js'
import { buildServer } from '../server/app.js'
import { authSetting } from '../server/auth.js'
import { createLogger } from '../server/logger.js'
import { DaemonMetrics } from '../server/metrics.js'
import { markHeldRunsInterrupted } from '../state/run-lock.js'
import { withManager } from './context.js'
import { EXIT, type GlobalOptions } from './output.js'

/** Options of `syncline serve`. */
export interface ServeCommandOptions extends GlobalOptions {
  /** Default 7070. */
  port?: number
  /** Default 127.0.0.1. */
  host?: string
  /** False with --no-auth. */
  auth?: boolean
  /** Default info. */
  logLevel?: LevelWithSilent
}

/** How long a second signal waits to mark its runs interrupted before it exits anyway. */
const MARK_TIMEOUT_MS = 2000

/** Serve until a signal stops it; resolves with the exit code. */
export async function serveCommand(options: ServeCommandOptions): Promise<number> {
  const opts = { ...options, port: options.port ?? 7070, host: options.host ?? '127.0.0.1', auth: options.auth ?? true, logLevel: options.logLevel ?? 'info' }
  const token = authSetting({ token: process.env.SYNCLINE_TOKEN, noAuth: !opts.auth, host: opts.host })
  const logger = createLogger({ level: opts.logLevel, ...(opts.json ? { pretty: false } : {}) })
  return withManager(opts, async (manager) => {
    const daemon = new Daemon({ manager, logger, metrics: new DaemonMetrics() })
    const app = await buildServer({ daemon, token })
    let signals = 0
    let stopped!: () => void
    const stopping = new Promise<void>((resolve) => (stopped = resolve))
    const onSignal = (signal: NodeJS.Signals) => {
      signals++
      if (signals > 2) process.exit(EXIT.syncFailed)
      if (signals > 1) {
        logger.warn({ signal }, 'second signal: exiting at once; runs in flight are marked failed (interrupted)')
        const marked = markHeldRunsInterrupted(`syncline serve stopped by a second ${signal}`)
        const timeout = new Promise((resolve) => setTimeout(resolve, MARK_TIMEOUT_MS).unref())
        void Promise.race([marked, timeout]).finally(() => process.exit(EXIT.syncFailed))
        return
      }
      logger.info({ signal }, `${signal}: stopping gracefully (send it again to exit at once)`)
      stopped()
    }
    process.on('SIGTERM', onSignal)
    process.on('SIGINT', onSignal)
    try {
      try {
        await app.listen({ port: opts.port, host: opts.host })
      } catch (error) {
        throw listenError(opts, error)
      }
      const address = app.server.address()
      const port = typeof address === 'object' && address !== null ? address.port : opts.port
      const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host
      daemon.start()
      logger.info({ url: `http://${host}:${port}`, auth: token !== undefined }, 'listening')
      await stopping
      await daemon.stop('the daemon is stopping')
      // Connections still open (a slow client) do not hold the exit up.
      app.server.closeAllConnections?.()
      await app.close()
      logger.info('stopped')
      return EXIT.ok
    } finally {
      // Whatever happened, no run is left going on when the manager closes.
      await daemon.stop('the daemon is stopping').catch(() => undefined)
      await app.close().catch(() => undefined)
      process.off('SIGTERM', onSignal)
      process.off('SIGINT', onSignal)
    }
  })
}

function listenError(opts: { port: number; host: string }, error: unknown): SynclineError {
  const code = (error as NodeJS.ErrnoException).code
  const why =
    code === 'EADDRINUSE'
      ? `port ${opts.port} is in use by another program; pick another with --port`
      : code === 'EADDRNOTAVAIL'
        ? `${opts.host} is not an address of this machine; use --host 127.0.0.1 or 0.0.0.0`
        : code === 'EACCES'
          ? `port ${opts.port} needs privileges; use a port above 1023`
          : (error as Error).message
  return new SynclineError('CONNECTION_REFUSED', 'config', `Cannot listen on ${opts.host}:${opts.port}: ${why}.`, { cause: error })
}
