/**
 * What the sync algorithms share during one run, and the per-row steps they
 * all take: map a source row, decide create/update/unchanged, report.
 */
import { keyOf, type ForeignKeyChecks } from '../connectors/connector.js'
import { SynclineError } from '../errors.js'
import type { StateStore, RunCounts, Watermark } from '../state/state-store.js'
import { valuesEqual } from '../values/compare.js'
import type { CanonicalType, Row } from '../values/canonical.js'
import type { BatchWriter, Operation, WritePipeline } from './batch-writer.js'
import { requireOrderedKeyScan } from './capabilities.js'
import type { PreparedSync } from './prepare-sync.js'
import { progressReport, type Progress, type ProgressListener } from './progress.js'

/** One run of one sync in progress. */
export interface RunContext {
  prepared: PreparedSync
  runId: string
  counts: RunCounts
  writer: BatchWriter
  pipeline: WritePipeline
  state: StateStore
  dryRun: boolean
  /** Re-read everything (`run --full`), ignoring the saved watermark. */
  full: boolean
  /**
   * `propagate`: delete destination rows missing at the source; `ignore`;
   * `defer`: skip deletes now, a later children-first pass makes them (foreign keys).
   */
  deletes: 'propagate' | 'ignore' | 'defer'
  /** `off`: writes skip the destination's foreign key checks (a cycle; checked after the run). */
  foreignKeyChecks?: ForeignKeyChecks
  signal?: AbortSignal
  onProgress?: ProgressListener
  /** A watermark waiting for the destination's `commit` (staging destinations). */
  pendingWatermark?: Watermark
  /** Sentences for the run's output and history (e.g. that it refilled the destination). */
  notes: string[]
  /** Destination rows when the run began, counted once by {@link destinationRowsAtStart}. */
  startRows?: { rows: number | undefined }
  /** A realtime sync that stopped streaming on request (its signal): a normal end, not a cancellation. */
  stoppedStreaming?: boolean
  /** Dry runs: operations that would be made on a side other than the destination (two-way: the source). */
  onPlanned?: (operations: readonly Operation[], side: 'source') => void
}

/**
 * The part of a run that comparing rows needs (no state store, no write
 * pipeline): what `verify` builds without starting a run.
 */
export type CompareContext = Pick<RunContext, 'prepared' | 'counts' | 'writer' | 'deletes' | 'signal'>

/**
 * Rows the destination held as the run began (0 when it does not exist yet;
 * undefined when it cannot count cheaply). Counted on first use, which must
 * come before the run writes anything.
 */
export async function destinationRowsAtStart(ctx: RunContext): Promise<number | undefined> {
  if (!ctx.startRows) {
    const p = ctx.prepared
    ctx.startRows = { rows: p.destinationExists ? await p.destination.count(p.destinationEntity.name) : 0 }
  }
  return ctx.startRows.rows
}

/**
 * Save a watermark once what it describes is committed: now, or, for a
 * destination that stages writes until `commit`, after that commit.
 */
export async function saveWatermark(ctx: RunContext, watermark: Watermark): Promise<void> {
  if (ctx.dryRun) return
  if (ctx.prepared.destination.capabilities.staging) ctx.pendingWatermark = watermark
  else await ctx.state.setWatermark(ctx.prepared.plan.id, watermark)
}

/** Report progress (listener errors never break a run). */
export function report(ctx: RunContext, phase: Progress['phase'], current: number, total: number | undefined, message: string, lagSeconds?: number): void {
  if (!ctx.onProgress) return
  try {
    const progress = progressReport(ctx.prepared.plan.id, phase, current, total, ctx.counts, message)
    if (lagSeconds !== undefined) progress.lagSeconds = lagSeconds
    ctx.onProgress(progress)
  } catch {
    // A broken progress listener must not fail the sync.
  }
}

/** True when the source row is marked deleted by the plan's `softDelete` field. */
export function isSoftDeleted(ctx: Pick<RunContext, 'prepared'>, row: Row): boolean {
  const field = ctx.prepared.plan.softDelete
  if (field === undefined) return false
  const value = row[field]
  return value !== null && value !== undefined && value !== false && value !== 0
}

/**
 * Map a source row to its destination row; a row that cannot be mapped is
 * recorded as rejected (its key is still known) and undefined is returned.
 */
export async function mapRow(ctx: CompareContext, row: Row, kind: 'create' | 'update'): Promise<Row | undefined> {
  try {
    return ctx.prepared.mapper.map(row)
  } catch (error) {
    if (!(error instanceof SynclineError) || error.failure !== 'data') throw error
    const key = keyOf(row, ctx.prepared.keys)
    await ctx.writer.reject({ kind, row, key }, error)
    return undefined
  }
}

/** The destination field types, by name, for change detection. */
export function destinationTypes(prepared: PreparedSync): Map<string, CanonicalType> {
  return new Map(prepared.destinationEntity.fields.map((f) => [f.name, f.type]))
}

/** Whether any mapped field differs between the mapped source row and the destination row. */
export function rowChanged(mapped: Row, existing: Row, types: ReadonlyMap<string, CanonicalType>): boolean {
  for (const field in mapped) {
    if (!valuesEqual(types.get(field) ?? 'text', mapped[field] ?? null, existing[field] ?? null)) return true
  }
  return false
}

/** The operation that brings the destination row in line, or undefined when unchanged. */
export function diffRow(ctx: CompareContext, mapped: Row, existing: Row | undefined, types: ReadonlyMap<string, CanonicalType>): Operation | undefined {
  // The key only for an operation: an unchanged row (most of a re-sync) makes no garbage array.
  if (existing === undefined) return { kind: 'create', row: mapped, key: keyOf(mapped, ctx.prepared.destinationKeys) }
  if (rowChanged(mapped, existing, types)) return { kind: 'update', row: mapped, key: keyOf(mapped, ctx.prepared.destinationKeys) }
  ctx.counts.unchanged++
  return undefined
}

/** The destination fields a comparison needs: every mapped field. */
export function destinationFields(prepared: PreparedSync): string[] {
  return prepared.mapper.fields.map((f) => f.destination)
}

/**
 * Refuse a pass that merges the source's and the destination's key-ordered
 * scans when either cannot scan in key order (see {@link requireOrderedKeyScan}).
 * Called before the pass writes anything.
 */
export function requireKeyOrder(ctx: RunContext, pass: string): void {
  const p = ctx.prepared
  requireOrderedKeyScan(p.plan.id, pass, [
    { role: 'source', connector: p.source },
    { role: 'destination', connector: p.destination },
  ])
}
