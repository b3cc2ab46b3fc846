/**
 * What a two-way sync keeps between runs (DESIGN §3, docs/two-way.md): per
 * key, the hash of the row both sides last agreed on (the base); the
 * destination side's watermark (the source's is the sync's usual one); and
 * the conflicts waiting for a person (`conflict: manual`).
 *
 * The base is compact on purpose, for tables of ten million keys: the key
 * in its order-preserving encoding (src/values/sort-key.ts), a 16-byte hash,
 * and only with `conflict: merge` 4 bytes per compared field.
 */
import type { KeyValues, Row } from '../values/canonical.js'
import { decodeStateValue, encodeStateValue } from './serialize-value.js'
import type { Watermark } from './state-store.js'

/** One key's base. */
export interface BaseEntry {
  /** The key's {@link sortKey} encoding: the stores order by it, in the order the databases sort keys. */
  key: Uint8Array
  /** Hash of the agreed row's compared fields; absent while only a pending write is recorded (both sides inserted the key). */
  hash?: Uint8Array
  /** `conflict: merge` only: 4 bytes per compared field, so a merge can tell which fields each side changed. */
  fields?: Uint8Array
  /**
   * A write to both sides in flight (a merged row): the two sides' hashes
   * before it and the target hash, 48 bytes. A run killed between the two
   * writes finds one side at the target and the other as it was, and
   * finishes the write instead of calling it a conflict.
   */
  pending?: Uint8Array
}

/** How one key's edits collided. */
export type ConflictKind = 'update/update' | 'update/delete' | 'delete/update' | 'insert/insert'

/** A conflict kept for `syncline conflicts` (every conflict of a `manual` sync; others are resolved at once). */
export interface StoredConflict {
  id: string
  syncId: string
  /** The key as users see it (`42`, `[1,"a"]`). */
  recordId: string
  /** The destination key values. */
  key: KeyValues
  kind: ConflictKind
  /** The source row when detected (null: deleted there), in source field names. */
  source: Row | null
  /** The destination row when detected (null: deleted there). */
  destination: Row | null
  /** The base both sides last agreed on: its hash (hex) only, the row itself is not kept (docs/two-way.md). */
  base: { hash: string | null; changed?: { source: string[]; destination: string[] } }
  detectedAt: string
  resolvedAt?: string
  /** `source`, `destination`, `agreed` (both sides made equal by hand), or a strategy name. */
  resolution?: string
}

/** Storage of the two-way state; both state stores implement it. */
export interface TwoWayState {
  /** Base entries of these keys (missing keys are absent), by {@link baseKeyId}. */
  getBase(syncId: string, keys: readonly Uint8Array[]): Promise<Map<string, BaseEntry>>
  /** Put and remove base entries in one transaction. */
  writeBase(syncId: string, put: readonly BaseEntry[], remove: readonly Uint8Array[]): Promise<void>
  /**
   * Base keys only, as lower-case hex (whose text order is the bytes' order),
   * in key order, after `after` (exclusive, hex too). The key pass reads every
   * key of the table: strings, unlike a Buffer per key, live on the heap the
   * garbage collector watches, so memory stays flat.
   */
  scanBaseKeys(syncId: string, after: string | undefined, limit: number): Promise<string[]>
  /** Base entries in key order, after `after` (exclusive). */
  scanBase(syncId: string, after: Uint8Array | undefined, limit: number): Promise<BaseEntry[]>
  /** Keys in the base, and the bytes they take in the store's columns (key + hash + fields). */
  baseSize(syncId: string): Promise<{ keys: number; bytes: number }>

  /** The destination side's watermark. */
  getDestinationWatermark(syncId: string): Promise<Watermark | undefined>
  setDestinationWatermark(syncId: string, watermark: Watermark | undefined): Promise<void>

  /** Open conflicts of these records, by record id. */
  openConflicts(syncId: string, recordIds: readonly string[]): Promise<Map<string, StoredConflict>>
  /** Insert or replace conflicts (by id). */
  saveConflicts(conflicts: readonly StoredConflict[]): Promise<void>
  /** Mark the open conflicts of these records resolved. */
  resolveConflicts(syncId: string, recordIds: readonly string[], resolution: string, at: string): Promise<void>
  /** Newest first; `open` (default true) keeps only unresolved ones. */
  listConflicts(opts?: { syncId?: string; open?: boolean; limit?: number }): Promise<StoredConflict[]>
  getConflict(id: string): Promise<StoredConflict | undefined>
}

/** The map key of a base entry: its key bytes as hex. */
export function baseKeyId(key: Uint8Array): string {
  return Buffer.from(key).toString('hex')
}

/** The columns of the `conflicts` table, in parameter order. */
export const CONFLICT_COLUMNS = ['id', 'sync_id', 'record_id', 'key_values', 'kind', 'source_row', 'destination_row', 'base', 'detected_at', 'resolved_at', 'resolution'] as const

/** A `conflicts` row as both stores read it. */
export interface ConflictRow {
  id: string
  sync_id: string
  record_id: string
  key_values: string
  kind: string
  source_row: string | null
  destination_row: string | null
  base: string
  detected_at: string
  resolved_at: string | null
  resolution: string | null
}

/** Parameters of a conflict, in {@link CONFLICT_COLUMNS} order; rows encoded exactly (bigints, bytes survive). */
export function conflictParams(c: StoredConflict): (string | null)[] {
  return [
    c.id,
    c.syncId,
    c.recordId,
    encodeStateValue(c.key),
    c.kind,
    c.source === null ? null : encodeStateValue(c.source),
    c.destination === null ? null : encodeStateValue(c.destination),
    JSON.stringify(c.base),
    c.detectedAt,
    c.resolvedAt ?? null,
    c.resolution ?? null,
  ]
}

/** A stored conflict from its row. */
export function conflictFromRow(row: ConflictRow): StoredConflict {
  const c: StoredConflict = {
    id: row.id,
    syncId: row.sync_id,
    recordId: row.record_id,
    key: decodeStateValue(row.key_values) as KeyValues,
    kind: row.kind as ConflictKind,
    source: row.source_row === null ? null : (decodeStateValue(row.source_row) as Row),
    destination: row.destination_row === null ? null : (decodeStateValue(row.destination_row) as Row),
    base: JSON.parse(row.base) as StoredConflict['base'],
    detectedAt: row.detected_at,
  }
  if (row.resolved_at !== null) c.resolvedAt = row.resolved_at
  if (row.resolution !== null) c.resolution = row.resolution
  return c
}

/** A base row as both stores read it. */
export interface BaseRow {
  key: Uint8Array
  hash: Uint8Array | null
  fields: Uint8Array | null
  pending: Uint8Array | null
}

/** A base entry from its row. */
export function baseFromRow(row: BaseRow): BaseEntry {
  const entry: BaseEntry = { key: new Uint8Array(row.key) }
  if (row.hash !== null) entry.hash = new Uint8Array(row.hash)
  if (row.fields !== null) entry.fields = new Uint8Array(row.fields)
  if (row.pending !== null) entry.pending = new Uint8Array(row.pending)
  return entry
}
