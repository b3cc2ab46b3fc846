/**
 * What a run delivered, remembered in the state store ({@link SyncFacts}),
 * and the check the next incremental run makes with it: does the destination
 * still hold what the watermark says was delivered? A destination dropped
 * and recreated by `create: true`, emptied, or left with fewer rows than the
 * last run left there would otherwise stay short for good, since the
 * watermark never reads those rows again.
 */
import type { FeedPosition, SyncFacts, Watermark } from '../state/state-store.js'
import { destinationRowsAtStart, type RunContext } from './run-context.js'

/**
 * Why this incremental run must compare in full instead of reading from its
 * watermark (a realtime run: instead of streaming from its saved position), as a sentence for the run's notes; undefined when the
 * destination holds what was delivered (as far as a row count can tell: the
 * key pass of `deletes: propagate` finds single missing rows). Rows another
 * writer adds can hide a loss from the count, never cause a false refill;
 * rows another writer deletes are refilled, since the sync owns its destination.
 */
export async function refillReason(ctx: RunContext, saved: Watermark | FeedPosition | undefined, facts: SyncFacts | undefined): Promise<string | undefined> {
  // Without a watermark the run reads everything anyway.
  if (!saved) return undefined
  const p = ctx.prepared
  const where = `${p.plan.destination.connection}.${p.destinationEntity.name}`
  // Worded for a run in progress: the note stays true if the run then fails.
  const refill = ctx.dryRun ? 'a real run would refill it by a full compare' : 'refilling it by a full compare'
  if (p.destinationCreated) {
    const created = ctx.dryRun ? 'a real run would create it again and refill it' : 'creating it again and refilling it'
    return `The destination ${where} did not exist (dropped or removed?) though earlier runs had delivered rows to it: ${created} by a full compare.`
  }
  // A source field mapped now that the source lacked at the last run (added
  // by schema: evolve, on this run or on one that failed afterwards): rows
  // delivered earlier lack it at the destination.
  const newlyMapped = newlyMappedFields(ctx, facts)
  if (newlyMapped.length > 0) {
    return `Field(s) ${newlyMapped.map((n) => `'${n}'`).join(', ')} were added at the source since the last run and now map to ${where}, so rows delivered earlier lack them: ${refill}.`
  }
  const before = facts?.destination
  if (before && (before.connection !== p.plan.destination.connection || before.entity !== p.plan.destination.entity)) {
    return `The destination changed from ${before.connection}.${before.entity} to ${where} since the last run, so the watermark does not describe it: ${refill}.`
  }
  const rows = await destinationRowsAtStart(ctx)
  if (rows === undefined) return undefined
  if (facts?.destinationRows !== undefined) {
    if (rows >= facts.destinationRows) return undefined
    return `The destination ${where} holds ${rows} rows, but held ${facts.destinationRows} rows after the last run (rows lost or deleted there): ${refill}.`
  }
  // State from before facts were kept: only an empty destination is sure to be short.
  if (rows === 0) return `The destination ${where} is empty though earlier runs had delivered rows to it: ${refill}.`
  return undefined
}

/** The facts to remember once this run's writes are committed. */
export async function deliveredFacts(ctx: RunContext): Promise<SyncFacts> {
  const p = ctx.prepared
  const start = await destinationRowsAtStart(ctx)
  const facts: SyncFacts = {
    source: { connection: p.plan.source.connection, entity: p.plan.source.entity },
    destination: { connection: p.plan.destination.connection, entity: p.plan.destination.entity },
    mappedFields: p.mapper.fields.filter((f) => f.source !== undefined).map((f) => ({ source: f.source!, destination: f.destination })),
    sourceFields: p.sourceEntity.fields.map((f) => f.name),
    updatedAt: new Date().toISOString(),
  }
  if (p.createdBySyncline) facts.destinationCreated = true
  // Counted at the start plus what this run landed: no second count. Rows
  // another writer adds meanwhile only make the next check less eager.
  if (start !== undefined) facts.destinationRows = Math.max(0, start + ctx.counts.created - ctx.counts.deleted)
  return facts
}

/** Source fields the mapping writes now that were not among the last run's source fields (same source entity only). */
function newlyMappedFields(ctx: RunContext, facts: SyncFacts | undefined): string[] {
  const p = ctx.prepared
  if (!facts || facts.source.connection !== p.plan.source.connection || facts.source.entity !== p.plan.source.entity) return []
  const known = new Set(facts.sourceFields)
  return p.mapper.fields.filter((f) => f.source !== undefined && !known.has(f.source)).map((f) => f.source!)
}
