/**
 * What to do with one key of a two-way sync, given both sides as they are
 * now and the base they last agreed on (DESIGN §3, docs/two-way.md):
 *
 * - both sides equal: they agree (the base follows, nothing is written);
 * - one side equals the base: the other side changed; its row (or its
 *   delete) goes to the unchanged side;
 * - neither equals the base: a conflict (update/update, update/delete,
 *   delete/update, or insert/insert when there is no base), settled by the
 *   plan's `conflict` strategy or the `conflict` listener.
 *
 * Pure: the caller reads the rows and the base, and writes what it returns.
 */
import { convertValue } from '../mapping/coerce.js'
import { compareValues } from '../values/compare.js'
import type { KeyValues, Row } from '../values/canonical.js'
import type { SyncPlan } from '../plan/schema.js'
import type { BaseEntry, ConflictKind } from '../state/two-way-state.js'
import { FIELD_HASH_BYTES, fieldHashes, ROW_HASH_BYTES, rowHash, sameHash } from './row-hash.js'
import type { TwoWayMapping } from './two-way-mapping.js'
import { isClockCursor } from './watermark.js'

/** A conflict as the `conflict` listener sees it (`manager.on('conflict', fn)`). */
export interface ConflictEvent {
  syncId: string
  recordId: string
  /** Key values in key order. */
  key: KeyValues
  kind: ConflictKind
  /** The source row, in source field names; null when deleted there. */
  source: Row | null
  /** The destination row; null when deleted there. */
  destination: Row | null
  /** Hash (hex) of the row both sides last agreed on; null for insert/insert. */
  baseHash: string | null
}

/**
 * What a `conflict` listener decides: a side to take, a strategy to apply,
 * `manual` to leave both sides and queue the conflict, or the row to keep
 * (destination field names; fields it leaves out keep the source's value),
 * written to both sides. `undefined`: the plan's `conflict` strategy.
 */
export type ConflictDecision = 'source' | 'destination' | 'latest-wins' | 'merge' | 'manual' | { row: Row }

/**
 * A TypeScript conflict resolver.
 * @example manager.on('conflict', (c) => (c.destination?.status === 'closed' ? 'destination' : undefined))
 */
export type ConflictResolver = (conflict: ConflictEvent) => ConflictDecision | undefined | Promise<ConflictDecision | undefined>

/** One key, both sides. Rows in destination shape except `source` (the raw source row). */
export interface KeyView {
  key: KeyValues
  keyBytes: Buffer
  recordId: string
  source?: Row
  /** `source` mapped forward. */
  sourceMapped?: Row
  destination?: Row
  base?: BaseEntry
}

/** The agreed row to record as the new base. */
export interface NewBase {
  hash: Buffer
  fields?: Buffer
}

/** What to do with one key. */
export interface Decision {
  /** Write this destination-shaped row (or delete) at the destination. */
  toDestination?: Row | 'delete'
  /** Write this destination-shaped row, mapped back, (or delete) at the source. */
  toSource?: Row | 'delete'
  /** The new base: an agreed row, `remove` (gone on both sides), `keep` (a manual conflict waits). */
  base: NewBase | 'remove' | 'keep'
  /** A write to both sides: recorded before writing, so a crash between them is finished, not called a conflict. */
  pending?: Buffer
  conflict?: { kind: ConflictKind; resolution: string }
}

/** What {@link decide} needs besides the key. */
export interface DecideContext {
  plan: SyncPlan
  mapping: TwoWayMapping
  resolver?: ConflictResolver
}

const ABSENT = Buffer.alloc(ROW_HASH_BYTES)

/** Decide one key (see the file comment). */
export async function decide(v: KeyView, dc: DecideContext): Promise<Decision> {
  const { compared } = dc.mapping
  const hs = v.sourceMapped ? rowHash(v.sourceMapped, compared) : undefined
  const hd = v.destination ? rowHash(v.destination, compared) : undefined
  const agreed = (row: Row | undefined, hash: Buffer | undefined): NewBase | 'remove' => (row && hash ? newBase(row, hash, dc) : 'remove')

  const finished = finishPending(v, hs, hd, dc)
  if (finished) return finished

  if (sameHash(hs, hd)) return { base: agreed(v.sourceMapped, hs) }
  const baseHash = v.base?.hash
  if (sameHash(hs, baseHash)) return { toSource: v.destination ?? 'delete', base: agreed(v.destination, hd) }
  if (sameHash(hd, baseHash)) return { toDestination: v.sourceMapped ?? 'delete', base: agreed(v.sourceMapped, hs) }

  const kind: ConflictKind = baseHash === undefined ? 'insert/insert' : !v.source ? 'delete/update' : !v.destination ? 'update/delete' : 'update/update'
  let decision: ConflictDecision | undefined
  if (dc.resolver) {
    decision = await dc.resolver({
      syncId: dc.plan.id,
      recordId: v.recordId,
      key: v.key,
      kind,
      source: v.source ?? null,
      destination: v.destination ?? null,
      baseHash: baseHash ? Buffer.from(baseHash).toString('hex') : null,
    })
  }
  const strategy = decision ?? strategyOf(dc.plan.conflict)
  const conflict = { kind, resolution: typeof strategy === 'string' ? strategy : 'resolver' }
  if (strategy === 'manual') return { base: 'keep', conflict }
  let winner: 'source' | 'destination' | undefined
  if (strategy === 'source' || strategy === 'destination') winner = strategy
  else if (strategy === 'latest-wins' || (strategy === 'merge' && (!v.source || !v.destination))) winner = latest(v, dc)
  if (winner === 'source') return { toDestination: v.sourceMapped ?? 'delete', base: agreed(v.sourceMapped, hs), conflict: { ...conflict, resolution: strategyName(strategy, winner) } }
  if (winner === 'destination') return { toSource: v.destination ?? 'delete', base: agreed(v.destination, hd), conflict: { ...conflict, resolution: strategyName(strategy, winner) } }

  // A merged row or the resolver's own row: written to both sides where it differs.
  const row = typeof strategy === 'object' ? { ...(v.sourceMapped ?? v.destination), ...strategy.row } : merged(v, dc)
  const hash = rowHash(row, compared)
  const out: Decision = { base: newBase(row, hash, dc), conflict }
  if (!sameHash(hash, hd)) out.toDestination = row
  if (!sameHash(hash, hs)) out.toSource = row
  if (out.toDestination && out.toSource) out.pending = Buffer.concat([hs ?? ABSENT, hd ?? ABSENT, hash])
  return out
}

function strategyOf(conflict: SyncPlan['conflict']): ConflictDecision {
  if (conflict === 'source-wins') return 'source'
  if (conflict === 'destination-wins') return 'destination'
  return conflict
}

function strategyName(strategy: ConflictDecision, winner: string): string {
  if (strategy === 'source' || strategy === 'destination') return `${strategy}-wins`
  return `${typeof strategy === 'string' ? strategy : 'resolver'}: ${winner}`
}

function newBase(row: Row, hash: Buffer, dc: DecideContext): NewBase {
  // Field hashes cost 4 bytes a field per key: only a merge reads them.
  return dc.plan.conflict === 'merge' ? { hash, fields: fieldHashes(row, dc.mapping.compared) } : { hash }
}

/**
 * A run killed between writing a merged row to one side and to the other
 * leaves one side at the target and the other as it was: finish the write.
 * Any other state (someone edited since) is decided afresh.
 */
function finishPending(v: KeyView, hs: Buffer | undefined, hd: Buffer | undefined, dc: DecideContext): Decision | undefined {
  const pending = v.base?.pending
  if (!pending || pending.length !== 3 * ROW_HASH_BYTES) return undefined
  const before = (h: Buffer | undefined, at: number) => (h === undefined ? ABSENT : h).equals(Buffer.from(pending.subarray(at, at + ROW_HASH_BYTES)))
  const target = Buffer.from(pending.subarray(2 * ROW_HASH_BYTES))
  const atTarget = (h: Buffer | undefined) => h !== undefined && h.equals(target)
  if (atTarget(hs) && atTarget(hd)) return { base: newBase(v.sourceMapped!, target, dc) }
  if (atTarget(hs) && before(hd, ROW_HASH_BYTES)) return { toDestination: v.sourceMapped!, base: newBase(v.sourceMapped!, target, dc) }
  if (atTarget(hd) && before(hs, 0)) return { toSource: v.destination!, base: newBase(v.destination!, target, dc) }
  return undefined
}

/** Which side's edit is the latest: by the cursors; an update beats a delete (a delete has no time). */
function latest(v: KeyView, dc: DecideContext): 'source' | 'destination' {
  if (!v.source) return 'destination'
  if (!v.destination) return 'source'
  const { sourceCursor, destinationCursor, sourceCursorType, destinationCursorType } = dc.mapping
  let destinationValue = v.destination[destinationCursor] ?? null
  // A local cursor on one side and a zoned one on the other: compared as the
  // same instant when the digits agree (a local timestamp means UTC, values.md).
  if (destinationCursorType !== sourceCursorType && isClockCursor(destinationCursorType) && isClockCursor(sourceCursorType)) {
    try {
      destinationValue = convertValue(destinationValue, destinationCursorType, sourceCursorType)
    } catch {
      // Not a timestamp either kind can hold (PostgreSQL's 'infinity'): compared as it is.
    }
  }
  const order = compareValues(sourceCursorType, v.source[sourceCursor] ?? null, destinationValue)
  if (order === 0) return dc.plan.conflictTies
  return order > 0 ? 'source' : 'destination'
}

/**
 * Field-level merge against the base: a field only one side changed takes
 * that side's value; a field both changed (or every field, without field
 * hashes: an insert/insert) takes the latest side's value.
 */
function merged(v: KeyView, dc: DecideContext): Row {
  const s = v.sourceMapped!
  const d = v.destination!
  const winner = latest(v, dc)
  const { names } = dc.mapping.compared
  // Fields that are not compared (cursors, one-way fields) come whole from the latest side; one-way ones always from the source.
  const row: Row = winner === 'source' ? { ...s } : { ...s, ...pick(d, Object.keys(s), dc) }
  const baseFields = v.base?.fields?.length === names.length * FIELD_HASH_BYTES ? v.base.fields : undefined
  const sFields = baseFields ? fieldHashes(s, dc.mapping.compared) : undefined
  const dFields = baseFields ? fieldHashes(d, dc.mapping.compared) : undefined
  names.forEach((name, i) => {
    const slot = (h: Uint8Array) => Buffer.from(h.subarray(i * FIELD_HASH_BYTES, (i + 1) * FIELD_HASH_BYTES))
    const sChanged = !baseFields || !slot(sFields!).equals(slot(baseFields))
    const dChanged = !baseFields || !slot(dFields!).equals(slot(baseFields))
    if (sChanged && !dChanged) row[name] = s[name] ?? null
    else if (dChanged && !sChanged) row[name] = d[name] ?? null
    else row[name] = (winner === 'source' ? s[name] : d[name]) ?? null
  })
  return row
}

function pick(row: Row, names: readonly string[], dc: DecideContext): Row {
  const oneWay = new Set(dc.plan.mapping.fields.filter((f) => f.oneWay === true).map((f) => f.destination))
  const out: Row = {}
  for (const name of names) if (!oneWay.has(name) && Object.hasOwn(row, name)) out[name] = row[name] ?? null
  return out
}

/** Which compared fields each side changed against the base (for a stored conflict); undefined without field hashes. */
export function changedFields(v: KeyView, mapping: TwoWayMapping): { source: string[]; destination: string[] } | undefined {
  const { names } = mapping.compared
  const base = v.base?.fields
  if (!base || base.length !== names.length * FIELD_HASH_BYTES) return undefined
  const diff = (row: Row | undefined) => {
    if (!row) return [...names]
    const hashes = fieldHashes(row, mapping.compared)
    return names.filter((_, i) => !hashes.subarray(i * FIELD_HASH_BYTES, (i + 1) * FIELD_HASH_BYTES).equals(Buffer.from(base.subarray(i * FIELD_HASH_BYTES, (i + 1) * FIELD_HASH_BYTES))))
  }
  return { source: diff(v.sourceMapped), destination: diff(v.destination) }
}
