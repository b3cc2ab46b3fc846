/**
 * The change-capture half of the connector contract (DESIGN §2.1, §3
 * "Realtime"): a connector with the `cdc` capability opens change feeds, one
 * per consumer and entity, that deliver every committed change in commit
 * order and resume after a position without losing or repeating one.
 *
 * A feed is at-least-once towards its consumer: what the consumer has not
 * acknowledged is delivered again after a crash, and because destination
 * writes are idempotent upserts and deletes, each change lands once. See
 * docs/realtime.md for how each connector captures changes.
 */
import type { KeyValues, Row } from '../values/canonical.js'
import type { ScanOptions } from './connector.js'

/**
 * A connector's resume token (a PostgreSQL LSN, a binlog file and offset, a
 * change-log sequence number), opaque to the engine and to users. Only the
 * connector that made it compares or parses it.
 */
export type Position = string

/** What happened to a row. */
export type ChangeType = 'create' | 'update' | 'delete'

/** One row change as the source committed it. */
export interface SourceChange {
  type: ChangeType
  /** The row's key after the change (for a delete: the deleted row's key), in the feed's `keys` order. */
  key: KeyValues
  /**
   * An update that changed the key: the key before it. The engine deletes
   * the old key at the destination and writes the new one.
   */
  previousKey?: KeyValues
  /**
   * The row after the change, every field of the entity, canonical values
   * exactly as `scan` reads them. Absent on delete. Never a placeholder: a
   * value the log leaves out (PostgreSQL's unchanged TOASTed columns) is
   * filled in by the connector.
   */
  record?: Row
  /**
   * The row before the change, where the source carries it (PostgreSQL
   * REPLICA IDENTITY FULL, a binlog full row image, a change-log trigger);
   * absent where the source only gives the key.
   */
  before?: Row
  /** Resume token: a feed opened `from` it delivers the changes after this one, and no change up to it. */
  position: Position
  /** Commit time of its transaction (canonical timestamp), where the source tells. */
  committedAt?: string
  /** Its transaction's id where the source has one (xid, GTID…): changes of one transaction share it. */
  transaction?: string
}

/**
 * Changes in commit order. A transaction's changes are contiguous; a
 * transaction larger than `maxBatchSize` spans several batches.
 */
export interface ChangeBatch {
  changes: SourceChange[]
  /**
   * Where the consumer is once it has handled this batch: the last change's
   * position, or beyond it when the source moved on (transactions that did
   * not touch the entity, a keepalive). A batch may be empty and only move
   * the position; saving and acknowledging it lets the source release its log.
   */
  position: Position
}

/** How to open a feed. */
export interface ChangeFeedOptions {
  /**
   * Durable name of the consumer, `[a-z0-9_]{1,40}` (e.g. `sync_orders`,
   * `watch_3f2a9c1d`): PostgreSQL names its slot and publication after it,
   * a change-log keeps its read position under it. What the consumer has not
   * acknowledged is kept until {@link Connector.dropChangeFeed}.
   */
  consumer: string
  /**
   * Resume after this position (one an earlier feed of this consumer gave).
   * Absent: start at the current end of the log, and `snapshot` reads the
   * rows as of that start. A position the source can no longer serve (slot
   * dropped or invalidated, binlog purged, change-log pruned) makes
   * `openChangeFeed` or `changes` throw `POSITION_LOST`.
   */
  from?: Position
  /** Key fields of the entity, in order (default its primary key). */
  keys?: string[]
  /** At most this many changes per batch (default 1000). */
  maxBatchSize?: number
  signal?: AbortSignal
}

/** An open change feed on one entity. */
export interface ChangeFeed {
  /** Where the stream starts: `from`, or the log's end as the feed opened. */
  readonly start: Position
  /**
   * The entity's rows exactly as of `start` (the snapshot exported with a
   * PostgreSQL slot, a consistent read with the change-log's sequence…), in
   * key order as `scan` reads them. Only for a feed opened without `from`,
   * and only before `changes` is first iterated; otherwise it throws.
   */
  snapshot(opts: Omit<ScanOptions, 'cursor' | 'after'>): AsyncIterable<Row[]>
  /**
   * Every change committed after `start`, in commit order, as it commits
   * (waiting when there is none, without busy polling). Ends when the
   * feed's signal aborts or `close` is called. Iterate it once.
   */
  changes(): AsyncIterable<ChangeBatch>
  /**
   * The consumer has durably handled everything up to `position`: the
   * source may release it (confirm the LSN, prune change-log rows).
   */
  ack(position: Position): Promise<void>
  /** Stop reading and release connections; the consumer's position stays for a later `from`. */
  close(): Promise<void>
}

/** A consumer's feed as the datasource keeps it, for `check` and `status`. */
export interface ChangeFeedStatus {
  consumer: string
  /** The entity it captures, where the datasource records it. */
  entity?: string
  /** Whether a feed reads it right now. */
  active: boolean
  /** The position acknowledged last, where the datasource keeps it. */
  position?: Position
  /** Bytes of log between the acknowledged position and the log's end (PostgreSQL, MariaDB). */
  lagBytes?: number
  /** Bytes of log the source keeps for this consumer (PostgreSQL: WAL the slot retains). */
  retainedBytes?: number
  /** Change-log rows kept for it (trigger-based feeds). */
  pendingChanges?: number
  /** Why the consumer can no longer resume (slot invalidated…); absent when it can. */
  lost?: string
}
