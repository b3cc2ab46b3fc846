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
 * Performance, Memory; docs/sync-semantics.md). The passes gather their
 * writes across pages: a key pass's deletes `batchSize` at a time, a row
 * merge's operations {@link writeSize} at a time.
 */
export const KEY_PAGE = 2000

/** The page size of a key pass or a row merge for a plan's `batchSize`. */
export function keyPageSize(batchSize: number): number {
  return Math.min(batchSize, KEY_PAGE)
}

/**
 * Rows per write of a pass that compares with a destination holding rows
 * (a full sync's merge, an incremental run's changes), at most the plan's
 * `batchSize`. A write's rows live from their page until it committed,
 * while the next ones are compared: gathered to 10,000, they outlived
 * young GCs and the old generation grew by their dead copies to several
 * times the live size (10,000,000 rows, 1% changed, `batchSize: 10000`:
 * 168 MB peak RSS compared row by row, 197 MB incremental; 125-163 MB and
 * 122-128 MB in 1,000-row writes, no slower: docs/sync-semantics.md,
 * "Memory at 10,000,000 rows").
 * A first copy into an empty destination still writes `batchSize` at a
 * time: its creates go by COPY, and nothing is looked up.
 */
export const WRITE_ROWS = 1000

/** Rows per write for a plan's `batchSize`, `batchSize` itself into an empty destination. */
export function writeSize(batchSize: number, allNew: boolean): number {
  return allNew ? batchSize : Math.min(batchSize, WRITE_ROWS)
}
