/**
 * Rows per page of a pass that reads every row or key of both sides, at
 * most the plan's `batchSize`: a key pass (the one-way pass of
 * `deletes: propagate`, src/engine/delete-reconciliation.ts, and the
 * two-way pass, src/engine/two-way-sync.ts) and the row merge of a full
 * sync compared row by row (src/engine/full-sync.ts, also `verify`).
 *
 * Such a pass reads the whole table on every run. Its pages must die
 * young: a page that outlives a young-generation GC is promoted, so with
 * large pages every GC moves megabytes of soon-dead rows into the old
 * generation, which grows to several times the live size before a full GC;
 * and V8 then pretenures the allocation sites that made them, so every
 * later row of the pass goes straight to the old generation. On
 * 1,000,000 rows with `batchSize: 10000` (npm run bench, postgres):
 * an incremental run's key pass peaked at 211 MB RSS with 10,000-key pages,
 * at 123 MB with these (and PostgreSQL's own key rows, see its source.ts);
 * a `compare: rows` re-sync at 232-262 MB with 10,000-row pages, at
 * 112-125 MB with these, in the same or less time (docs/two-way.md,
 * Performance, Memory; docs/sync-semantics.md). Writes still go out
 * `batchSize` at a time: the passes gather them across pages.
 */
export const KEY_PAGE = 2000

/** The page size of a key pass or a row merge for a plan's `batchSize`. */
export function keyPageSize(batchSize: number): number {
  return Math.min(batchSize, KEY_PAGE)
}
