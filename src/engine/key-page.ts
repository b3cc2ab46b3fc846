/**
 * Keys per page of a key pass (the one-way pass of `deletes: propagate`,
 * src/engine/delete-reconciliation.ts, and the two-way pass,
 * src/engine/two-way-sync.ts), at most the plan's `batchSize`.
 *
 * A key pass reads every key of both sides on every run. Its pages must die
 * young: a page that outlives a young-generation GC is promoted, and V8 then
 * pretenures the allocation sites that made it, so every later key of the
 * pass is allocated in the old generation and kept until a full GC. A
 * 1,000,000-key incremental run peaked at 211 MB RSS with 10,000-key pages,
 * at 123 MB with these (and PostgreSQL's own key rows, see its source.ts),
 * in the same time (npm run bench; docs/two-way.md, Performance, Memory).
 */
export const KEY_PAGE = 2000

/** The page size of a key pass for a plan's `batchSize`. */
export function keyPageSize(batchSize: number): number {
  return Math.min(batchSize, KEY_PAGE)
}
