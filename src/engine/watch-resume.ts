/**
 * Resuming a watch `since` its last delivered event after the watch
 * acknowledged the source past it (docs/realtime.md "Positions").
 *
 * A source moves a consumer's position on without delivering anything: a
 * PostgreSQL feed yields position-only batches while other tables are
 * written, and changes the watch's filters leave out are acknowledged too.
 * The source may then release its log up to the acknowledged position, and
 * a user who kept only the position of the last event their callback
 * handled would get `POSITION_LOST` although no event lies between. So
 * before such an acknowledgement the watch records, for its consumer, the
 * last delivered position and the one it acknowledges (one state write per
 * acknowledged batch at most, never per event, and none when the batch ends
 * with a delivered event); a resume since exactly that delivered position
 * opens the source at the acknowledged one instead. Any other position
 * resumes as given, so an older one still meets the source's own check.
 */
import { createHash } from 'node:crypto'
import type { Position } from '../connectors/change-feed.js'
import type { FilterPlan } from '../plan/schema.js'
import type { WatchResume } from '../state/state-store.js'

/**
 * The filters a watch delivers through, as a short text that differs when
 * they select differently (field, operator and value in order; '' for none).
 * @example filtersFingerprint([{ field: 'status', op: 'eq', value: 'open' }]) // 16 hex digits
 */
export function filtersFingerprint(filters: readonly FilterPlan[] | undefined): string {
  if (filters === undefined || filters.length === 0) return ''
  const spelled = JSON.stringify(filters.map((f) => [f.field, f.op, f.value ?? null]))
  return createHash('sha256').update(spelled, 'utf8').digest('hex').slice(0, 16)
}

/**
 * Where to open the source for a resume since `position`: the position the
 * state recorded as acknowledged after it when `position` is the consumer's
 * last delivered one and the changes between (if any) were left out by the
 * same filters; otherwise `position` itself.
 */
export function resumePosition(recorded: WatchResume | undefined, position: Position, fingerprint: string): Position {
  if (recorded === undefined || recorded.delivered !== position) return position
  if (recorded.filters !== undefined && recorded.filters !== fingerprint) return position
  return recorded.acknowledged
}

/** What a watch delivered since it started, to say what to record before an acknowledgement. */
export class DeliveryTracker {
  #delivered: Position
  #skipped: boolean

  /**
   * `start`: the position the user was given as the watch's start
   * (`ready`), which counts as delivered; `skipped`: whether the filters
   * already left out changes after it (a watch opened beyond it).
   */
  constructor(
    start: Position,
    private readonly fingerprint: string,
    skipped = false,
  ) {
    this.#delivered = start
    this.#skipped = skipped
  }

  /** The callback of the change at `position` returned. */
  delivered(position: Position): void {
    this.#delivered = position
    this.#skipped = false
  }

  /** The filters left a change out. */
  skipped(): void {
    this.#skipped = true
  }

  /** What to record before acknowledging `position`; undefined when it is the last delivered position itself. */
  before(position: Position): WatchResume | undefined {
    if (position === this.#delivered) return undefined
    return { delivered: this.#delivered, acknowledged: position, ...(this.#skipped ? { filters: this.fingerprint } : {}) }
  }
}
