/**
 * Checksum descent (DESIGN §3, issue 11): compare a sync's source and
 * destination per key range, by a count and a checksum each database
 * computes (`capabilities.rangeChecksum`), and read rows only where they
 * differ. Both whole tables are checksummed at once first (in step: done).
 * Where both sides stream (key, hash) pairs (`streamHashes`), a table that
 * differs — or whose first keys already do — is compared pair by pair in
 * one streamed pass. Otherwise the key space is cut at keys taken from one
 * side, and both sides are asked about the very same bounds; a range that
 * differs is cut again until it is small, then its pairs are compared. Only
 * the keys whose hashes differ are read in full and handed, as merge steps,
 * to the code the row merge uses ({@link operationFor}), so creates,
 * updates, deletes and counts come out as a row-by-row merge makes them.
 *
 * Rows whose checksums agree count as read and unchanged: their mapped
 * values equal the destination's (src/values/row-checksum.ts), which is
 * exactly when the row merge counts them unchanged. That holds only when
 * each destination field is a source field copied as is, which
 * {@link checksumComparison} checks; otherwise the sync stays on the row path.
 */
import { keyOf, type ChecksumField, type KeyHash, type KeyRange, type RangeOptions } from '../connectors/connector.js'
import { SynclineError, throwIfAborted } from '../errors.js'
import type { CanonicalType, KeyValues, Row } from '../values/canonical.js'
import { compareKeys } from '../values/compare.js'
import { checksumText } from '../values/row-checksum.js'
import { rangeChecksumOf, type RangeChecksumMethods } from './capabilities.js'
import { differingKeyChunks, type DifferingKey } from './key-hash-merge.js'
import { destinationFields, type CompareContext } from './run-context.js'
import type { MergeStep } from './sorted-merge.js'

/**
 * How the key space is compared. `probeRows`: where both sides stream
 * pairs, the first this many keys of each are compared before anything
 * else; `lookupRows`: how many differing keys of the streams are read in
 * full, and written, at a time: rows that outlive two young GCs are
 * promoted, and with 100,000 changed rows of 10,000,000 the old generation
 * then grew to 80 MB between full GCs (peak RSS 185 MB with 2,000 rows a
 * lookup, 161–168 MB with 1,000, 136–150 MB with 500, 132 MB with 250, the
 * run no slower). `leafRows`: ranges of at most this many rows (on the larger side)
 * compare (key, hash) pairs instead of being cut again; their pairs are
 * held in memory, so it bounds memory. `fanout`: into how many ranges a
 * differing range is cut. A whole key space that differs is cut into about
 * `2 × rows / leafRows` ranges at first (at least `fanout`, at most
 * `maxFirstCut`). Tests lower these to make small tables descend.
 */
export const descentLimits = { leafRows: 25_000, fanout: 16, maxFirstCut: 4096, probeRows: 2000, lookupRows: 250 }

/** One side of the comparison: a connector's range methods bound to its entity, keys and fields. */
interface ChecksumSide {
  methods: RangeChecksumMethods
  entity: string
  base: Omit<RangeOptions, 'range'>
  fields: ChecksumField[]
  /** The row hash function both sides compute. */
  hash: string
  /** What a lookup reads, for the rows that differ. */
  lookupFields: string[]
}

/** Both sides, ready to compare. */
export interface ChecksumComparison {
  source: ChecksumSide
  destination: ChecksumSide
  keyTypes: CanonicalType[]
}

/** What rules the checksum path out besides the connectors and the mapping. */
export interface ChecksumObstacles {
  /** Set when the run keeps a watermark from every source row it reads (a full pass of a sync with a cursor). */
  tracksWatermark?: boolean
  /** Set when the source rows come from a change feed's snapshot instead of a scan. */
  snapshot?: boolean
}

/**
 * Both sides of a checksum comparison, or why the sync compares row by row
 * (a sentence). `compare: rows` always gives a reason; `compare: checksum`
 * turns a reason into a CAPABILITY_MISSING error.
 */
export function checksumComparison(ctx: CompareContext, obstacles: ChecksumObstacles = {}): ChecksumComparison | string {
  const reason = checksumCandidate(ctx, obstacles)
  if (typeof reason !== 'string') return reason
  // Nothing to compare with yet: a first copy, whatever `compare` says.
  if (ctx.prepared.plan.compare === 'checksum' && ctx.prepared.destinationExists) {
    throw new SynclineError('CAPABILITY_MISSING', 'config', `Sync '${ctx.prepared.plan.id}' has compare: checksum, but ${reason}. Set compare: auto (or rows) to compare row by row.`)
  }
  return reason
}

/** What {@link checksumComparison} gives, without throwing: for callers that only plan ahead (no I/O). */
export function checksumCandidate(ctx: CompareContext, obstacles: ChecksumObstacles = {}): ChecksumComparison | string {
  const p = ctx.prepared
  if (p.plan.compare === 'rows') return 'the plan sets compare: rows'
  if (!p.destinationExists) return 'the destination does not exist yet'
  if (obstacles.snapshot) return 'a realtime sync compares its feed snapshot row by row'
  if (obstacles.tracksWatermark) return 'a full pass of a sync with a cursor reads every row to keep its watermark'
  if (p.plan.softDelete !== undefined) return `softDelete '${p.plan.softDelete}' turns source rows into deletes, which a checksum cannot tell`
  const sourceMethods = rangeChecksumOf(p.source)
  if (!sourceMethods) return `the source connection '${p.source.name}' (${p.source.kind}) cannot checksum key ranges`
  const destinationMethods = rangeChecksumOf(p.destination)
  if (!destinationMethods) return `the destination connection '${p.destination.name}' (${p.destination.kind}) cannot checksum key ranges`
  const sourceTypes = new Map(p.sourceEntity.fields.map((f) => [f.name, f.type]))
  for (const field of p.mapper.fields) {
    if (field.transform !== undefined) return `destination field '${field.destination}' is computed by a transform (${field.transform}), which the databases cannot checksum`
    if (field.source === undefined) return `destination field '${field.destination}' has no source field`
    if (sourceTypes.get(field.source) !== field.type) {
      return `source field '${field.source}' (${sourceTypes.get(field.source) ?? '?'}) is converted to ${field.type} for destination field '${field.destination}'`
    }
  }
  const sourceKeyTypes = p.keys.map((k) => sourceTypes.get(k) ?? 'text')
  // The first hash function both sides compute (md5 always is).
  const destinationHashes = p.destination.checksumHashes ?? ['md5']
  const hash = (p.source.checksumHashes ?? ['md5']).find((h) => destinationHashes.includes(h)) ?? 'md5'
  return {
    keyTypes: p.keyTypes,
    source: {
      methods: sourceMethods,
      entity: p.sourceEntity.name,
      base: { keys: p.keys, keyTypes: sourceKeyTypes, filters: p.filters, ...(ctx.signal ? { signal: ctx.signal } : {}) },
      fields: p.mapper.fields.map((f) => ({ name: f.source!, type: f.type })),
      hash,
      lookupFields: p.mapper.sourceFields,
    },
    destination: {
      methods: destinationMethods,
      entity: p.destinationEntity.name,
      base: { keys: p.destinationKeys, keyTypes: p.keyTypes, ...(ctx.signal ? { signal: ctx.signal } : {}) },
      fields: p.mapper.fields.map((f) => ({ name: f.destination, type: f.type })),
      hash,
      lookupFields: destinationFields(p),
    },
  }
}

/** Whether the destination holds a row: one key read, where a count(*) reads the table. */
export async function destinationHasRows(cmp: ChecksumComparison): Promise<boolean> {
  const side = cmp.destination
  const first = await side.methods.rangeHashes(side.entity, { ...side.base, fields: side.fields, hash: side.hash, range: {}, limit: 1 })
  return first.length > 0
}

/** A range to look at, with the rows its cut expects in it on the larger side. */
interface Pending {
  range: KeyRange
  expectedRows?: number
}

/**
 * How often small ranges have differed so far. Once most do (changes spread
 * all over the table), a small range goes straight to its (key, hash) pairs:
 * its checksum would only be one more pass that finds it different.
 */
class Density {
  private seen = 0
  private differed = 0
  record(differs: boolean): void {
    this.seen++
    if (differs) this.differed++
  }
  get dense(): boolean {
    return this.seen >= 4 && this.differed * 2 > this.seen
  }
}

/**
 * The merge steps of the keys that differ, in chunks of about `chunkSize`,
 * range by range in key order (streamed tables: in chunks of at most
 * `descentLimits.lookupRows`, written while the streams go on). Keys whose
 * checksums agree are counted in `ctx.counts` (read and unchanged) and
 * reported to `onSame`.
 * @example for await (const steps of differingSteps(ctx, comparison, 5000)) …
 */
export async function* differingSteps(ctx: CompareContext, cmp: ChecksumComparison, chunkSize: number, onSame?: (rows: number) => void, seen: SeenRows = {}): AsyncGenerator<MergeStep[]> {
  const same = (rows: number): void => {
    ctx.counts.read += rows
    ctx.counts.unchanged += rows
    onSame?.(rows)
  }
  const whole: KeyRange = {}
  // Where both sides stream their pairs, one pass each finds every differing key,
  // cheaper than cutting and asking range by range, one round trip each.
  const streamed = streams(cmp)
  // Changes spread over the table show in its first keys already: then a whole checksum would only find it different.
  if (streamed && (await headDiffers(cmp))) {
    yield* streamedSteps(ctx, cmp, whole, chunkSize, same, seen)
    return
  }
  // One pass over each side, both at once: tables in step (the usual scheduled run) end here.
  const [s, d] = await Promise.all([checksum(cmp.source, whole), checksum(cmp.destination, whole)])
  if (s.count === d.count && s.sum === d.sum) {
    seen.destinationRows = d.count
    same(s.count)
    return
  }
  if (streamed) {
    yield* streamedSteps(ctx, cmp, whole, chunkSize, same, seen)
    return
  }
  seen.destinationRows = d.count
  yield* gathered(descend(ctx, cmp, { source: s.count, destination: d.count }, chunkSize, same), chunkSize)
}

/**
 * What a comparison saw besides the differing rows: the destination's row
 * count when it began (each pass reads one snapshot taken before the first
 * write), set once known, so that a run needs no count(*) pass of its own.
 */
export interface SeenRows {
  destinationRows?: number
}

/** Small ranges give a few steps each: gather them into batches of about chunkSize for the writer. */
async function* gathered(chunks: AsyncIterable<MergeStep[]>, chunkSize: number): AsyncGenerator<MergeStep[]> {
  let out: MergeStep[] = []
  for await (const steps of chunks) {
    out = out.length === 0 ? steps : out.concat(steps)
    if (out.length >= chunkSize) {
      yield out
      out = []
    }
  }
  if (out.length > 0) yield out
}

/** Whether both sides stream their (key, hash) pairs. */
function streams(cmp: ChecksumComparison): boolean {
  return cmp.source.methods.streamHashes !== undefined && cmp.destination.methods.streamHashes !== undefined
}

/**
 * Whether the first `descentLimits.probeRows` keys of the two sides differ.
 * Only keys up to the lower of the sides' last keys count where both lists
 * were cut off (a key missing on one side shifts its list along).
 */
async function headDiffers(cmp: ChecksumComparison): Promise<boolean> {
  const limit = descentLimits.probeRows
  const head = (side: ChecksumSide) => side.methods.rangeHashes(side.entity, { ...side.base, fields: side.fields, hash: side.hash, range: {}, limit })
  const [left, right] = await Promise.all([head(cmp.source), head(cmp.destination)])
  const cutOff = [left, right].filter((pairs) => pairs.length >= limit).map((pairs) => pairs[pairs.length - 1]!.key)
  const bound = cutOff.reduce<KeyValues | undefined>((low, key) => (low === undefined || compareKeys(cmp.keyTypes, key, low) < 0 ? key : low), undefined)
  const within = (pairs: KeyHash[]) => (bound === undefined ? pairs : pairs.filter((p) => compareKeys(cmp.keyTypes, p.key, bound) <= 0))
  return differingKeys(within(left), within(right), cmp.keyTypes).length > 0
}

/** Cut the key space, checksum the parts, and cut again where they differ, down to (key, hash) pairs. */
async function* descend(ctx: CompareContext, cmp: ChecksumComparison, totals: { source: number; destination: number }, chunkSize: number, same: (rows: number) => void): AsyncGenerator<MergeStep[]> {
  const stack: Pending[] = []
  const whole: KeyRange = {}
  const density = new Density()
  const largest = Math.max(totals.source, totals.destination)
  const { leafRows, fanout, maxFirstCut } = descentLimits
  // The whole is known to differ: cut it at once, or compare its pairs when small.
  if (largest <= leafRows) {
    yield* leafSteps(ctx, cmp, whole, chunkSize, same)
    return
  }
  const firstParts = Math.min(maxFirstCut, Math.max(fanout, Math.ceil((2 * largest) / leafRows)))
  pushParts(stack, whole, await cut(cmp, whole, totals, firstParts), largest / firstParts)
  while (stack.length > 0) {
    throwIfAborted(ctx.signal)
    const { range, expectedRows } = stack.pop()!
    const small = expectedRows !== undefined && expectedRows <= leafRows
    if (small && density.dense) {
      density.record(yield* leafSteps(ctx, cmp, range, chunkSize, same))
      continue
    }
    const [s, d] = await Promise.all([checksum(cmp.source, range), checksum(cmp.destination, range)])
    const differs = s.count !== d.count || s.sum !== d.sum
    if (small) density.record(differs)
    if (!differs) {
      same(s.count)
      continue
    }
    const rows = Math.max(s.count, d.count)
    const parts = rows > leafRows ? await cut(cmp, range, { source: s.count, destination: d.count }, fanout) : []
    if (parts.length > 0) {
      pushParts(stack, range, parts, rows / (parts.length + 1))
      continue
    }
    yield* leafSteps(ctx, cmp, range, chunkSize, same)
  }
}

/**
 * Merge both sides' streamed pairs of a range; read in full only the keys
 * that differ. Each chunk of keys is looked up, and handed to the writer,
 * while the merge already finds the next one: with changes spread over the
 * table, waiting for a chunk's rows or a whole batch size of them would
 * leave the streams idle and put every write after their end.
 */
async function* streamedSteps(ctx: CompareContext, cmp: ChecksumComparison, range: KeyRange, chunkSize: number, same: (rows: number) => void, seen: SeenRows): AsyncGenerator<MergeStep[]> {
  const pairs = (side: ChecksumSide) => side.methods.streamHashes!(side.entity, { ...side.base, fields: side.fields, hash: side.hash, range })
  const lookupSize = Math.min(chunkSize, descentLimits.lookupRows)
  // Destination rows: its pairs equal to the source's, and its differing ones.
  let destinationRows = 0
  const equal = (rows: number) => {
    destinationRows += rows
    same(rows)
  }
  const chunks = differingKeyChunks(pairs(cmp.source), pairs(cmp.destination), cmp.keyTypes, lookupSize, equal)
  // One chunk ahead at most, so memory stays bounded by two chunks.
  let next = ahead(chunks)
  try {
    for (;;) {
      const chunk = await next
      if (chunk.done) {
        seen.destinationRows = destinationRows
        return
      }
      throwIfAborted(ctx.signal)
      next = ahead(chunks)
      for (const d of chunk.value) if (d.right) destinationRows++
      yield await stepsOf(ctx, cmp, chunk.value)
    }
  } finally {
    // The merge may be reading on: let it stop before its streams close.
    await next.catch(() => undefined)
    await chunks.return(undefined)
  }
}

/** The next item, read while the caller works; its failure comes out where it is awaited, not as an unhandled rejection. */
function ahead<T>(iterator: AsyncIterator<T>): Promise<IteratorResult<T>> {
  const next = iterator.next()
  next.catch(() => undefined)
  return next
}

/** Push the ranges between the cuts, last first, so they pop in key order. */
function pushParts(stack: Pending[], range: KeyRange, cuts: KeyValues[], expectedRows: number): void {
  const bounds: (KeyValues | undefined)[] = [range.after, ...cuts, range.through]
  for (let i = bounds.length - 2; i >= 0; i--) {
    const part: KeyRange = {}
    if (bounds[i] !== undefined) part.after = bounds[i]!
    if (bounds[i + 1] !== undefined) part.through = bounds[i + 1]!
    stack.push({ range: part, expectedRows })
  }
}

function checksum(side: ChecksumSide, range: KeyRange) {
  return side.methods.rangeChecksum(side.entity, { ...side.base, fields: side.fields, hash: side.hash, range })
}

/** Cut points from the side with more rows (keys are the same values on both sides). */
async function cut(cmp: ChecksumComparison, range: KeyRange, rows: { source: number | undefined; destination: number | undefined }, parts: number): Promise<KeyValues[]> {
  const fromSource = (rows.source ?? 0) >= (rows.destination ?? 0)
  const side = fromSource ? cmp.source : cmp.destination
  const count = (fromSource ? rows.source : rows.destination) ?? 0
  if (count < 2) return []
  return side.methods.rangeSplit(side.entity, { ...side.base, range, parts, rows: count })
}

/** A small range: compare (key, hash) pairs, read in full only the keys that differ; returns whether any did. */
async function* leafSteps(ctx: CompareContext, cmp: ChecksumComparison, range: KeyRange, chunkSize: number, same: (rows: number) => void): AsyncGenerator<MergeStep[], boolean> {
  const hashes = (side: ChecksumSide) => side.methods.rangeHashes(side.entity, { ...side.base, fields: side.fields, hash: side.hash, range })
  const [left, right] = await Promise.all([hashes(cmp.source), hashes(cmp.destination)])
  const differing = differingKeys(left, right, cmp.keyTypes)
  same(left.length - differing.filter((d) => d.left).length)
  for (let at = 0; at < differing.length; at += chunkSize) {
    throwIfAborted(ctx.signal)
    yield await stepsOf(ctx, cmp, differing.slice(at, at + chunkSize))
  }
  return differing.length > 0
}

/** The rows of differing keys, read from both sides at once, as merge steps in key order. */
async function stepsOf(ctx: CompareContext, cmp: ChecksumComparison, differing: readonly DifferingKey[]): Promise<MergeStep[]> {
  const [sourceRows, destinationRows] = await Promise.all([
    lookup(ctx, cmp.source, differing.filter((d) => d.left).map((d) => d.key)),
    lookup(ctx, cmp.destination, differing.filter((d) => d.right).map((d) => d.key)),
  ])
  const steps: MergeStep[] = []
  for (const d of differing) {
    const text = keyId(d.key, cmp.keyTypes)
    const step: MergeStep = {}
    const l = sourceRows.get(text)
    const r = destinationRows.get(text)
    if (l) step.left = l
    if (r) step.right = r
    // A row deleted since its hash was read is simply no longer there.
    if (l || r) steps.push(step)
  }
  return steps
}

/** Keys on one side only, or on both with different hashes, in key order. */
function differingKeys(left: readonly KeyHash[], right: readonly KeyHash[], types: readonly CanonicalType[]): DifferingKey[] {
  const out: DifferingKey[] = []
  let i = 0
  let j = 0
  while (i < left.length || j < right.length) {
    const order = i >= left.length ? 1 : j >= right.length ? -1 : compareKeys(types, left[i]!.key, right[j]!.key)
    if (order === 0) {
      if (left[i]!.hash !== right[j]!.hash) out.push({ key: left[i]!.key, left: true, right: true })
      i++
      j++
    } else if (order < 0) out.push({ key: left[i++]!.key, left: true, right: false })
    else out.push({ key: right[j++]!.key, left: false, right: true })
  }
  return out
}

async function lookup(ctx: CompareContext, side: ChecksumSide, keys: KeyValues[]): Promise<Map<string, Row>> {
  const rows = keys.length === 0 ? [] : await side.methods.lookup(side.entity, side.base.keys, keys, side.lookupFields, ctx.signal ? { signal: ctx.signal } : {})
  return new Map(rows.map((row) => [keyId(keyOf(row, side.base.keys), side.base.keyTypes), row]))
}

/** Text equal for keys the merge finds equal, whichever side decoded them (`1.5` and `1.50`). */
function keyId(key: KeyValues, types: readonly CanonicalType[]): string {
  return key.map((v, i) => (v === null ? '~' : checksumText(types[i] ?? 'text', v))).join('\u0000')
}
