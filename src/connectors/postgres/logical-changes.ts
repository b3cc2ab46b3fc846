/**
 * Row changes of a logical-replication feed, from pgoutput's insert, update
 * and delete messages: the key in the feed's key order, the record, the
 * before-image where the replica identity gives one, the previous key of a
 * key change, and the values pgoutput leaves out filled in by key.
 */
import type { CanonicalType, KeyValues } from '../../values/canonical.js'
import { valuesEqual } from '../../values/compare.js'
import { recordId } from '../../values/record-id.js'
import type { SourceChange } from '../change-feed.js'
import { keyOf } from '../connector.js'
import type { PgoutputMessage } from './pgoutput-messages.js'
import { decodeTuple, type RelationDecoder } from './pgoutput-values.js'
import { lookupRows, type PgContext } from './source.js'

/** What shapes a feed's changes. */
export interface ChangeShape {
  /** Key fields, in the feed's order. */
  keys: string[]
  /** Their canonical types (for comparing old and new keys). */
  types: CanonicalType[]
  /** REPLICA IDENTITY FULL: updates and deletes carry the whole old row. */
  fullIdentity: boolean
  /** Stored generated columns: pgoutput (before PostgreSQL 18) leaves them out, so they are read by key. */
  generated: string[]
}

/** A change being assembled, with what is still to be read from the table. */
export interface PendingChange {
  change: SourceChange
  /** Fields pgoutput left out (unchanged TOAST, generated columns): read by key before the batch goes out. */
  missing?: string[]
  /** Its transaction's commit LSN. */
  commitLsn?: bigint
}

type RowMessage = Extract<PgoutputMessage, { tag: 'insert' | 'update' | 'delete' }>

/** The change a row message describes; its position, commit time and transaction are the caller's to add. */
export function rowChange(shape: ChangeShape, decoder: RelationDecoder, message: RowMessage): PendingChange {
  const { keys } = shape
  const old = message.tag !== 'insert' && message.old ? decodeTuple(decoder, message.old).row : undefined
  const identityKey = message.tag !== 'insert' && message.key ? decodeTuple(decoder, message.key).row : undefined
  const before = shape.fullIdentity ? old : undefined
  if (message.tag === 'delete') {
    const key = keyOf(old ?? identityKey ?? {}, keys)
    return { change: { type: 'delete', key, ...(before ? { before } : {}), position: '' } }
  }
  const { row, unchanged } = decodeTuple(decoder, message.new)
  const missing: string[] = []
  for (const name of unchanged) {
    // FULL identity logs the old row whole (detoasted); otherwise the value is read from the table.
    if (old && name in old) row[name] = old[name]!
    else missing.push(name)
  }
  for (const name of shape.generated) if (!(name in row) && !unchanged.includes(name)) missing.push(name)
  const key = keyOf(row, keys)
  const change: SourceChange = { type: message.tag === 'insert' ? 'create' : 'update', key, record: row, position: '' }
  if (before) change.before = before
  // DEFAULT identity sends the old key only when it changed; FULL always sends the old row.
  const oldKey = old ?? identityKey
  if (message.tag === 'update' && oldKey) {
    const previous = keyOf(oldKey, keys)
    if (!sameKey(shape.types, previous, key)) change.previousKey = previous
  }
  return missing.length > 0 ? { change, missing } : { change }
}

function sameKey(types: readonly CanonicalType[], a: KeyValues, b: KeyValues): boolean {
  return a.every((v, i) => valuesEqual(types[i]!, v, b[i] ?? null))
}

/**
 * Fill in what pgoutput left out by reading the rows by key, one query per
 * batch. A row gone since then was deleted or re-keyed later in the
 * stream, and that later change supersedes this one: a plain update is
 * left out (its values can no longer be known, and a placeholder could
 * break a NOT NULL column at the destination), a key change becomes the
 * delete of its old key, so the old row still goes.
 */
export async function completeChanges(ctx: PgContext, entity: string, keys: readonly string[], batch: readonly PendingChange[], signal?: AbortSignal): Promise<SourceChange[]> {
  const needing = batch.filter((p) => p.missing)
  if (needing.length === 0) return batch.map((p) => p.change)
  const fields = [...new Set(needing.flatMap((p) => p.missing!))]
  const rows = await lookupRows(ctx, entity, keys, needing.map((p) => p.change.key), fields, signal)
  const byKey = new Map(rows.map((r) => [recordId(keyOf(r, keys)), r]))
  const out: SourceChange[] = []
  for (const { change, missing } of batch) {
    if (!missing) {
      out.push(change)
      continue
    }
    const current = byKey.get(recordId(change.key))
    if (current) {
      for (const name of missing) change.record![name] = current[name] ?? null
      out.push(change)
    } else if (change.previousKey) {
      const { record: _record, previousKey, ...rest } = change
      out.push({ ...rest, type: 'delete', key: previousKey })
    }
  }
  return out
}
