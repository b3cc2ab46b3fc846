/**
 * The bulk path of a first full copy: when the destination is empty and both
 * connectors speak a common bulk format (PostgreSQL's binary COPY between
 * PostgreSQL tables of the same column types, COPY text), the rows go
 * from one to the other as bytes, never decoded. This is what makes an
 * initial load run near the speed of a COPY pipe.
 *
 * Taken only when it writes exactly what the row path would: no filters, no
 * soft deletes, every mapped field a plain field of the same canonical type
 * (or an integer into a decimal),
 * and (the connectors' part) column types that hold the values exactly. If
 * the destination rejects a value, nothing was written (one transaction) and
 * the run continues row by row, where each rejected record is reported.
 */
import { SynclineError } from '../errors.js'
import { bulkPathOf } from './capabilities.js'
import { report, type RunContext } from './run-context.js'
import { laterWatermark, type WatermarkTracker } from './watermark.js'

/**
 * Whether a source type's bulk text means the same in the destination type:
 * the same type, or an integer into a decimal (BIGINT UNSIGNED becomes
 * PostgreSQL numeric(20)); the destination connector still checks the sizes.
 */
function sameInBulk(source: string | undefined, destination: string | undefined): boolean {
  return source === destination || (source === 'integer' && destination === 'decimal')
}

/**
 * Copy everything in bulk if possible; false when the row path must run.
 * With a tracker, the source also reports the highest `(cursor, key)` of the
 * copied snapshot, which the tracker takes as the watermark.
 */
export async function tryBulkCopy(ctx: RunContext, total: number | undefined, tracker?: WatermarkTracker): Promise<boolean> {
  const p = ctx.prepared
  const { source, destination } = p
  if (ctx.dryRun || p.filters.length > 0 || p.plan.softDelete !== undefined) return false
  const bulk = bulkPathOf(source, destination)
  if (bulk === undefined) return false
  const sourceTypes = new Map(p.sourceEntity.fields.map((f) => [f.name, f.type]))
  const destinationTypes = new Map(p.destinationEntity.fields.map((f) => [f.name, f.type]))
  const plain = p.mapper.fields.every((f) => f.source !== undefined && f.transform === undefined && sameInBulk(sourceTypes.get(f.source), destinationTypes.get(f.destination)))
  if (!plain) return false

  const highest = tracker ? { cursor: tracker.cursorField, keys: [...tracker.keys] } : undefined
  // The source's preferred format first (PostgreSQL → PostgreSQL: binary);
  // a side that cannot carry these fields in it refuses before a row is written.
  for (const format of bulk.formats) {
    const exported = await bulk.bulkExport(p.sourceEntity.name, { fields: p.mapper.fields.map((f) => f.source!), format, signal: ctx.signal, ...(highest ? { highest } : {}) })
    if (!exported) continue
    try {
      const rows = await bulk.bulkImport(p.destinationEntity.name, exported, {
        columns: p.mapper.fields.map((f) => f.destination),
        signal: ctx.signal,
        onRows: (n) => report(ctx, 'copy', n, total, `${n} rows copied in bulk`),
        ...(ctx.foreignKeyChecks === 'off' ? { foreignKeyChecks: 'off' as const } : {}),
        ...(p.destinationCreated ? { createdByRun: true } : {}),
      })
      if (rows === undefined) continue
      if (tracker && exported.highest) laterWatermark(tracker, exported.highest)
      ctx.counts.read += rows
      ctx.counts.created += rows
      const readers = exported.readers !== undefined && exported.readers > 1 ? `, read by ${exported.readers} threads` : ''
      report(ctx, 'copy', rows, total, `${rows} rows copied in bulk (${format}${readers})`)
      return true
    } catch (error) {
      if (!(error instanceof SynclineError) || error.failure !== 'data') throw error
      report(ctx, 'copy', 0, total, `The bulk copy stopped, nothing written (${error.message.split('\n')[0]}); copying row by row`)
      return false
    } finally {
      await exported.close()
    }
  }
  return false
}
