/** Reconnect delays: exponential with full jitter, so many clients of a restarted daemon do not come back in step. */

/** How long to wait before reconnect attempt `attempt` (0 = the first after a drop). */
export function backoffDelay(attempt: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30))
  // Never less than half the ceiling: full jitter down to 0 would hammer a daemon that is still down.
  return Math.round(ceiling / 2 + random() * (ceiling / 2))
}
