/**
 * Progress on the terminal: a bar on a TTY, plain throttled lines
 * otherwise, JSON lines with --json. Everything goes to stderr, so stdout
 * keeps only results.
 */
import cliProgress from 'cli-progress'
import type { Progress } from '../engine/progress.js'
import { log, redact } from './output.js'

/** Draws progress reports; call `stop()` when the run ends. */
export interface ProgressDisplay {
  update(progress: Progress): void
  stop(): void
}

const LINE_INTERVAL_MS = 1000

/** Pick the display for this terminal and output mode. */
export function createProgressDisplay(opts: { json?: boolean; quiet?: boolean }): ProgressDisplay {
  if (opts.quiet) return { update: () => undefined, stop: () => undefined }
  if (opts.json) return lines((p) => JSON.stringify({ progress: p }))
  if (process.stderr.isTTY) return bar()
  return lines((p) => `${p.syncId}: ${p.phase} ${p.message}${p.percent !== undefined ? ` (${p.percent}%)` : ''}`)
}

function lines(format: (p: Progress) => string): ProgressDisplay {
  let last = 0
  let phase = ''
  // The newest report not printed yet: shown when its phase ends, so each
  // phase's final numbers always appear.
  let unprinted: Progress | undefined
  const write = (p: Progress) => {
    log(format(p))
    last = Date.now()
    unprinted = undefined
  }
  return {
    update(p) {
      const key = `${p.syncId}/${p.phase}`
      if (key !== phase) {
        if (unprinted) write(unprinted)
        phase = key
        write(p)
      } else if (Date.now() - last >= LINE_INTERVAL_MS) write(p)
      else unprinted = p
    },
    stop: () => {
      if (unprinted) write(unprinted)
    },
  }
}

function bar(): ProgressDisplay {
  const progressBar = new cliProgress.SingleBar(
    { format: '{sync} {phase} [{bar}] {percentage}% | {value}/{total} | {message}', stream: process.stderr, hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  )
  let started = false
  let current = ''
  return {
    update(p) {
      const key = `${p.syncId}/${p.phase}`
      const total = p.total ?? Math.max(p.current, 1)
      const payload = { sync: p.syncId, phase: p.phase.padEnd(7), message: redact(p.message) }
      if (p.phase === 'prepare' || p.phase === 'done') return
      if (!started || key !== current) {
        if (started) progressBar.stop()
        progressBar.start(total, p.current, payload)
        started = true
        current = key
      } else {
        progressBar.setTotal(total)
        progressBar.update(p.current, payload)
      }
    },
    stop() {
      if (started) progressBar.stop()
      started = false
    },
  }
}
