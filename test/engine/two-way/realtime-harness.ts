/**
 * Realtime two-way runs in the background for tests: start one, wait until
 * it streams, wait for both sides to reach what a test expects, stop it.
 */
import { expect } from 'vitest'
import type { SyncResult } from '../../../src/engine/run-sync.js'
import type { SyncManager } from '../../../src/sync-manager.js'
import type { Row } from '../../../src/values/canonical.js'
import type { TestDatasource } from '../datasources.js'
import { items } from './two-way-harness.js'

/** A realtime run in progress. */
export interface Streaming {
  /** Resolves once the run streams (its first comparison done); rejects when it ended before. */
  streaming: Promise<void>
  /** Abort it and wait for its result. */
  stop: () => Promise<SyncResult>
  /** Its result once it ended (by itself, e.g. failed, or stopped). */
  ended?: SyncResult
}

/** Start `manager.run(id)` of a realtime sync in the background. */
export function startStreaming(manager: SyncManager, id: string): Streaming {
  const controller = new AbortController()
  let onStream: () => void = () => undefined
  let onEnd: (error: Error) => void = () => undefined
  const streaming = new Promise<void>((resolve, reject) => {
    onStream = resolve
    onEnd = reject
  })
  const result = manager.run(id, { signal: controller.signal, onProgress: (p) => p.phase === 'stream' && onStream() })
  // A run that ends before streaming fails the test with its error (a no-op once streaming).
  void result.then((r) => onEnd(new Error(`the realtime run ended before streaming: ${r.status} ${r.error ?? ''} ${(r.notes ?? []).join(' ')}`)), onEnd)
  const handle: Streaming = {
    streaming,
    stop: async () => {
      controller.abort()
      return result
    },
  }
  void result.then((r) => (handle.ended = r))
  return handle
}

/** Wait until both sides hold `want` (polling them), at most `ms`; fails with the last difference, or the result of `running` once it ended. */
export async function converged(src: TestDatasource, dst: TestDatasource, want: Row[], running?: Streaming, ms = 30_000): Promise<void> {
  const until = Date.now() + ms
  for (;;) {
    const [s, d] = await Promise.all([items(src), items(dst)])
    if (JSON.stringify(s) === JSON.stringify(want) && JSON.stringify(d) === JSON.stringify(want)) return
    // A run that ended cannot converge any more: its result says why.
    if (running?.ended) expect(running.ended).toBe('still streaming')
    if (Date.now() > until) {
      expect(s).toEqual(want)
      expect(d).toEqual(want)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
