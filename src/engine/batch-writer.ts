/**
 * Writes batches of operations to the destination, one transaction each,
 * and keeps the run's counts. A batch the destination rejects because of a
 * record (too long, NOT NULL…) is split in halves until the bad records are
 * alone; those go to the record-error table with their reason and the rest
 * lands. Halving relies on `capabilities.transactions` (a failed half wrote
 * nothing); a destination without transactions may have kept part of a
 * failed batch, so its records are re-applied one by one instead (apply is
 * idempotent, so a record that had landed lands again unchanged). More rejected records than the plan's `maxErrors` fail the run.
 */
import { setImmediate as nextTurn } from 'node:timers/promises'
import type { Connector, ForeignKeyChecks } from '../connectors/connector.js'
import { SynclineError, throwIfAborted } from '../errors.js'
import { boundedText } from '../state/record-excerpt.js'
import type { RecordErrorEntry, RunCounts } from '../state/state-store.js'
import type { KeyValues, Row } from '../values/canonical.js'
import { recordId } from '../values/record-id.js'

/** One change to make at the destination. */
export type Operation = { kind: 'create' | 'update'; row: Row; key: KeyValues } | { kind: 'delete'; key: KeyValues }

/** What a writer needs to know about its run. */
export interface BatchWriterOptions {
  destination: Connector
  entity: string
  keys: string[]
  syncId: string
  runId: string
  counts: RunCounts
  /** Rejected records tolerated before the run fails. */
  maxErrors: number
  dryRun: boolean
  signal?: AbortSignal
  /** Rejected records, saved by the caller (state store). */
  onRejected(entries: RecordErrorEntry[]): Promise<void>
  /** Dry runs: every operation that would be made. */
  onPlanned?(operations: readonly Operation[]): void
  /** `off`: the destination writes without checking foreign keys (a cycle; checked after the run). Default `on`. */
  foreignKeyChecks?: ForeignKeyChecks
}

/** The key as users see it; it lives with the values so connectors can name records too. */
export { recordId }

/** Applies operations and isolates rejected records. */
export class BatchWriter {
  /** Records rejected in this run so far. */
  rejected = 0
  /** The {@link recordId} of every record rejected in this run, so a later pass does not try it again. */
  readonly rejectedIds = new Set<string>()
  /** Every upsert is known to be new (empty destination): lets the sink bulk load. */
  allNew = false
  /** Rejections counted against maxErrors: this writer's, or those of every writer sharing the budget. */
  private budget = { rejected: 0 }

  constructor(private readonly opts: BatchWriterOptions) {}

  /**
   * Count `other`'s rejected records against this writer's maxErrors and
   * the other way round: one budget for a run that writes to two places
   * (a two-way sync writes both sides). Call before either writes.
   */
  shareBudget(other: BatchWriter): void {
    other.budget = this.budget
  }

  /**
   * Apply one batch. Resolves when it is committed; returns how many of its
   * records were rejected (0 means the whole batch landed).
   */
  async write(operations: readonly Operation[]): Promise<number> {
    if (operations.length === 0) return 0
    throwIfAborted(this.opts.signal)
    if (this.opts.dryRun) {
      this.opts.onPlanned?.(operations)
      this.count(operations)
      return 0
    }
    return this.applyIsolating(operations)
  }

  /** Apply, splitting on record errors; returns how many records were rejected. */
  private async applyIsolating(operations: readonly Operation[]): Promise<number> {
    try {
      await this.apply(operations)
      this.count(operations)
      return 0
    } catch (error) {
      if (!(error instanceof SynclineError) || error.failure !== 'data') throw error
      if (operations.length === 1) {
        await this.reject(operations[0]!, error)
        return 1
      }
      if (!this.opts.destination.capabilities.transactions) return this.applyOneByOne(operations)
      const half = Math.ceil(operations.length / 2)
      return (await this.applyIsolating(operations.slice(0, half))) + (await this.applyIsolating(operations.slice(half)))
    }
  }

  /** Without transactions: each record on its own, so each one's fate is known. */
  private async applyOneByOne(operations: readonly Operation[]): Promise<number> {
    let rejected = 0
    for (const op of operations) rejected += await this.applyIsolating([op])
    return rejected
  }

  private async apply(operations: readonly Operation[]): Promise<void> {
    const upserts: Row[] = []
    const deletes: KeyValues[] = []
    for (const op of operations) {
      if (op.kind === 'delete') deletes.push(op.key)
      else upserts.push(op.row)
    }
    const options = { keys: this.opts.keys, allNew: this.allNew, signal: this.opts.signal, ...(this.opts.foreignKeyChecks === 'off' ? { foreignKeyChecks: 'off' as const } : {}) }
    await this.opts.destination.apply(this.opts.entity, { upserts, deletes }, options)
  }

  private count(operations: readonly Operation[]): void {
    const counts = this.opts.counts
    for (const op of operations) {
      if (op.kind === 'create') counts.created++
      else if (op.kind === 'update') counts.updated++
      else counts.deleted++
    }
  }

  /**
   * The record as it is kept with its error: the key fields, then the field
   * the error names, then the rest (the state store keeps the first fields
   * and bounds each value, so these come first).
   */
  private rejectedRecord(op: Operation, error: SynclineError): Record<string, unknown> {
    const record: Record<string, unknown> = {}
    if (op.kind === 'delete') {
      this.opts.keys.forEach((k, i) => (record[k] = op.key[i]))
      return record
    }
    // A row that failed to map is the source row, whose key fields may be named otherwise.
    const first = [...this.opts.keys, error.details?.field].filter((name): name is string => typeof name === 'string' && Object.hasOwn(op.row, name))
    for (const name of first) record[name] = op.row[name]
    for (const [name, value] of Object.entries(op.row)) if (!Object.hasOwn(record, name)) record[name] = value
    return record
  }

  /** Record a rejected record (also used for rows that fail to map); throws past the budget. */
  async reject(op: Operation, error: SynclineError): Promise<void> {
    this.rejected++
    this.budget.rejected++
    this.rejectedIds.add(recordId(op.key))
    this.opts.counts.failed++
    const reason = boundedText(error.message)
    await this.opts.onRejected([
      {
        runId: this.opts.runId,
        syncId: this.opts.syncId,
        operation: op.kind,
        recordId: recordId(op.key),
        record: this.rejectedRecord(op, error),
        reason,
        at: new Date().toISOString(),
      },
    ])
    if (this.budget.rejected > this.opts.maxErrors) {
      const budget = this.opts.maxErrors === 0 ? 'maxErrors is 0 (fail on the first rejected record)' : `maxErrors is ${this.opts.maxErrors}`
      throw new SynclineError(
        'ERROR_BUDGET_EXCEEDED',
        'data',
        `Record ${boundedText(recordId(op.key), 200)} was rejected by ${this.opts.entity}: ${reason}\n${this.budget.rejected} record(s) rejected and ${budget}; fix the data or raise maxErrors. Rejected records are listed by 'syncline history ${this.opts.syncId}'.`,
        { cause: error },
      )
    }
  }
}

/**
 * Keeps one write in flight while the next batch is read and compared, so
 * reading and writing overlap. `afterCommit` runs once its batch committed
 * (that is where checkpoints are saved).
 */
export class WritePipeline {
  private inFlight: Promise<void> | undefined
  private failure: { error: unknown } | undefined

  constructor(private readonly writer: BatchWriter) {}

  /** Queue a batch; waits for the previous one first. `afterCommit` gets how many of its records were rejected. */
  async submit(operations: readonly Operation[], afterCommit?: (rejected: number) => Promise<void>): Promise<void> {
    // One event-loop turn per batch: a synchronous datasource (better-sqlite3)
    // would otherwise keep signals, timers and abort() from running until the
    // whole sync ended.
    await nextTurn()
    await this.drain()
    const write = this.writer.write(operations).then(async (rejected) => afterCommit?.(rejected))
    // Keep the failure for the next submit/drain, so it is never unhandled.
    this.inFlight = write.catch((error: unknown) => {
      this.failure = { error }
    })
  }

  /** Wait for the write in flight; rethrow its failure. */
  async drain(): Promise<void> {
    if (this.inFlight) await this.inFlight
    this.inFlight = undefined
    if (this.failure) {
      const { error } = this.failure
      this.failure = undefined
      throw error
    }
  }
}
