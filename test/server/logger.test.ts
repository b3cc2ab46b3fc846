/**
 * The daemon's logs: JSON lines with the sync and run ids, secrets the plan
 * holds never written (in messages or fields), readable lines for a
 * terminal, and --log-level respected.
 */
import { Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { hideSecrets } from '../../src/cli/output.js'
import { createLogger } from '../../src/server/logger.js'

function capture(): { stream: Writable; lines: () => string[] } {
  const chunks: string[] = []
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      chunks.push(chunk.toString())
      done()
    },
  })
  return { stream, lines: () => chunks.join('').split('\n').filter((l) => l !== '') }
}

describe('createLogger', () => {
  it('writes JSON lines carrying syncId and runId, with the plan secrets and secret-named fields censored', () => {
    hideSecrets(['pa55-w0rd-in-url'])
    const out = capture()
    const logger = createLogger({ stream: out.stream, pretty: false })
    const run = logger.child({ syncId: 'customers', runId: 'r-1' })
    run.error({ error: 'auth failed for postgres://u:pa55-w0rd-in-url@db/x', password: 'hunter2-field', attempt: 2 }, 'run failed')
    const [line] = out.lines().map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(line).toMatchObject({ level: 'error', syncId: 'customers', runId: 'r-1', attempt: 2, msg: 'run failed', password: '***' })
    expect(typeof line!.time).toBe('string')
    expect(out.lines().join('\n')).not.toContain('pa55-w0rd-in-url')
    expect(out.lines().join('\n')).not.toContain('hunter2-field')
  })

  it('writes short readable lines for a terminal, and nothing below the level asked for', () => {
    const out = capture()
    const logger = createLogger({ stream: out.stream, pretty: true, level: 'warn' })
    logger.child({ syncId: 'orders', runId: '1f2e3d4c-aaaa-bbbb' }).warn({ delayMs: 500 }, 'attempt failed, retrying')
    logger.info('not shown')
    expect(out.lines()).toEqual([expect.stringMatching(/^\d\d:\d\d:\d\d WARN {2}orders 1f2e3d4c attempt failed, retrying delayMs=500$/)])
  })
})
