/**
 * V8 settings of the `syncline` process, imported before anything else
 * (src/cli/index.ts). Library users keep their own process's settings.
 *
 * Allocation-site pretenuring is off. V8 allocates the objects of a site
 * straight into the old generation once most of them survived a young GC;
 * a scan's rows always do while their page is being compared (early in a
 * run the young generation is 1 MB), so the row sites of a long pass were
 * pretenured and every row after that went to the old generation, which a
 * full GC then emptied about once a second at 4-5 times the live size. A
 * 10,000,000-row re-sync compared row by row after 1% changed peaked at
 * 168-224 MB RSS with pretenuring and 10,000-row writes, 125-163 MB without
 * it and with 1,000-row writes (GC timing decides where in that range), in
 * the same time or less (docs/sync-semantics.md, "Memory at 10,000,000
 * rows"). Syncline's rows are short-lived by design: what lives long
 * (state, caches) is small.
 *
 * The old generation may grow to 1.3 times what was live after a full GC
 * before the next one (V8 picks up to 4 times by its own heuristics). A few
 * per cent of every young GC's survivors are still reachable at the next
 * one and get promoted; with about 10 MB live that dead weight is what
 * peak RSS is made of. A 10,000,000-row SQLite → PostgreSQL idle re-sync
 * (rows hashed in this process) peaked at 163-173 MB without this, 132 MB
 * with it, in the same time: a full GC of a small live heap takes 2-5 ms.
 */
import { setFlagsFromString } from 'node:v8'

setFlagsFromString('--no-allocation-site-pretenuring')
setFlagsFromString('--heap-growing-percent=30')
