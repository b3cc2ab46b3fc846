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
 */
import { setFlagsFromString } from 'node:v8'

setFlagsFromString('--no-allocation-site-pretenuring')
