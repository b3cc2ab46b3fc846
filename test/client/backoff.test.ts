/** Reconnect delays of syncline/client: doubling from the first delay, capped, jittered within [half, whole] of the step. */
import { describe, expect, it } from 'vitest'
import { backoffDelay } from '../../src/client/backoff.js'

describe('syncline/client reconnect backoff', () => {
  it('doubles from minMs up to maxMs, never below half a step', () => {
    const top = (attempt: number) => backoffDelay(attempt, 500, 30_000, () => 1)
    const bottom = (attempt: number) => backoffDelay(attempt, 500, 30_000, () => 0)
    expect([0, 1, 2, 3, 4, 5, 6, 7].map(top)).toEqual([500, 1000, 2000, 4000, 8000, 16000, 30000, 30000])
    expect([0, 1, 6, 1000].map(bottom)).toEqual([250, 500, 15000, 15000])
  })
})
