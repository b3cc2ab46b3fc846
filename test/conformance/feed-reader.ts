/**
 * Reading a change feed step by step in conformance cases: take the next N
 * changes (failing after a timeout instead of hanging), check that nothing
 * more arrives, and see the stream end. One `changes()` iteration serves
 * every step, as a consumer uses it; a wait that timed out stays pending and
 * the next step picks it up, so no batch is lost between steps.
 */
import { expect } from 'vitest'
import type { ChangeBatch, ChangeFeed, SourceChange } from '../../src/connectors/change-feed.js'
import { show } from './fixtures.js'

/** A change reduced to what the cases compare exactly: type, key, previous key and record. */
export interface ChangeShape {
  type: SourceChange['type']
  key: SourceChange['key']
  previousKey?: SourceChange['key']
  record?: SourceChange['record']
}

/** The parts of a change the cases compare, absent parts left out. */
export function shape(change: SourceChange): ChangeShape {
  return {
    type: change.type,
    key: change.key,
    ...(change.previousKey !== undefined ? { previousKey: change.previousKey } : {}),
    ...(change.record !== undefined ? { record: change.record } : {}),
  }
}

/** One line per change for failure messages. */
function summary(change: SourceChange): string {
  return `${change.type} ${change.key.map((v) => show(v)).join(',')} @${change.position}`
}

/** Steps over one iteration of `feed.changes()`. */
export class FeedReader {
  /** Every change received so far, in order. */
  readonly received: SourceChange[] = []
  /** Every batch received so far, in order. */
  readonly batches: ChangeBatch[] = []
  /** Whether `changes()` has ended. */
  ended = false
  private readonly iterator: AsyncIterator<ChangeBatch>
  private pending: Promise<IteratorResult<ChangeBatch>> | undefined
  private taken = 0

  constructor(readonly feed: ChangeFeed) {
    this.iterator = feed.changes()[Symbol.asyncIterator]()
  }

  /** The next `n` changes not taken yet; throws when they do not all arrive within `timeoutMs`. */
  async take(n: number, timeoutMs = 10_000): Promise<SourceChange[]> {
    const deadline = Date.now() + timeoutMs
    while (this.received.length - this.taken < n) {
      const result = await this.next(deadline - Date.now())
      const got = () => JSON.stringify(this.received.slice(this.taken).map(summary))
      if (result === 'timeout') throw new Error(`expected ${n} changes within ${timeoutMs} ms, got ${this.received.length - this.taken}: ${got()}`)
      if (result.done) throw new Error(`changes() ended after ${this.received.length - this.taken} of ${n} changes: ${got()}`)
    }
    const out = this.received.slice(this.taken, this.taken + n)
    this.taken += n
    return out
  }

  /** Assert that no change beyond those taken arrives within `ms`. */
  async expectNoMore(ms = 300): Promise<void> {
    const deadline = Date.now() + ms
    while (this.received.length === this.taken && !this.ended && Date.now() < deadline) {
      const result = await this.next(deadline - Date.now())
      if (result === 'timeout') break
    }
    expect(this.received.slice(this.taken).map(summary)).toEqual([])
  }

  /** Wait until `changes()` ends; true when it did within `timeoutMs`. Changes arriving meanwhile are kept. */
  async end(timeoutMs = 2000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs
    while (!this.ended) {
      const result = await this.next(deadline - Date.now())
      if (result === 'timeout') return false
    }
    return true
  }

  /** The next batch (recorded), or 'timeout'; the wait stays pending for the next call after a timeout. */
  private async next(ms: number): Promise<IteratorResult<ChangeBatch> | 'timeout'> {
    if (this.ended) return { done: true, value: undefined }
    if (!this.pending) {
      this.pending = this.iterator.next()
      // A wait abandoned by the end of a case must not surface as an unhandled rejection.
      this.pending.catch(() => {})
    }
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), Math.max(0, ms))
    })
    try {
      const result = await Promise.race([this.pending, timeout])
      if (result === 'timeout') return result
      this.pending = undefined
      if (result.done) this.ended = true
      else {
        this.batches.push(result.value)
        this.received.push(...result.value.changes)
      }
      return result
    } finally {
      clearTimeout(timer)
    }
  }
}
