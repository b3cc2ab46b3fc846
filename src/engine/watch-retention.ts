/**
 * Keeping an ended watch's consumer for a while, then dropping it
 * (docs/realtime.md "Decisions"). A consumer keeps what it has not
 * acknowledged (a PostgreSQL slot keeps WAL, a change-log keeps rows), so
 * one kept forever fills the disk; one dropped at once makes `since`
 * useless. A watch that ends records its consumer as released; every watch
 * start and `syncline check` drops the connection's consumers released
 * longer ago than the retention (default one hour).
 */
import type { ChangeFeedStatus } from '../connectors/change-feed.js'
import type { Connector } from '../connectors/connector.js'
import { SynclineError } from '../errors.js'
import type { StateStore } from '../state/state-store.js'

/** How long an ended watch's consumer is kept, unless `SYNCLINE_WATCH_RETENTION` says otherwise. */
export const DEFAULT_WATCH_RETENTION_SECONDS = 3600

/**
 * The retention in milliseconds: `SYNCLINE_WATCH_RETENTION` (seconds, a
 * whole number of 0 or more) or one hour. Throws `PLAN_INVALID` naming the
 * variable for anything else.
 * @example watchRetentionMs({ SYNCLINE_WATCH_RETENTION: '600' }) // 600000
 */
export function watchRetentionMs(env: NodeJS.ProcessEnv): number {
  const text = env.SYNCLINE_WATCH_RETENTION
  if (text === undefined || text.trim() === '') return DEFAULT_WATCH_RETENTION_SECONDS * 1000
  if (!/^\d+$/.test(text.trim())) {
    throw new SynclineError(
      'PLAN_INVALID',
      'config',
      `SYNCLINE_WATCH_RETENTION is '${text}'; give the seconds an ended watch's position stays resumable as a whole number (default ${DEFAULT_WATCH_RETENTION_SECONDS}), or unset it.`,
    )
  }
  return Number(text.trim()) * 1000
}

/** What {@link dropReleasedWatches} did. */
export interface DroppedWatches {
  /** Consumers dropped at the source and forgotten. */
  dropped: string[]
  /** Consumers whose drop failed; they stay released and are tried again next time. */
  failed: { consumer: string; error: Error }[]
}

/**
 * Drop the consumers of one connection whose watch ended more than
 * `retentionMs` ago: first at the source (`dropChangeFeed`), then in the
 * state store, so a crash in between only repeats an idempotent drop.
 */
export async function dropReleasedWatches(connection: string, connector: Connector, state: StateStore, retentionMs: number, now = Date.now()): Promise<DroppedWatches> {
  const result: DroppedWatches = { dropped: [], failed: [] }
  const drop = connector.dropChangeFeed?.bind(connector)
  if (drop === undefined) return result
  const cutoff = new Date(now - retentionMs).toISOString()
  for (const consumer of await state.listWatchConsumers(connection)) {
    if (consumer.releasedAt === undefined || consumer.releasedAt > cutoff) continue
    try {
      await drop(consumer.consumer)
      await state.forgetWatchConsumer(connection, consumer.consumer)
      result.dropped.push(consumer.consumer)
    } catch (error) {
      result.failed.push({ consumer: consumer.consumer, error: error instanceof Error ? error : new Error(String(error)) })
    }
  }
  return result
}

/** A consumer the datasource keeps, with what the state store knows of it when it is a watch's. */
export interface ChangeFeedReport extends ChangeFeedStatus {
  /** Present for a watch's consumer this state store knows. */
  watch?: {
    /** When its watch ended (absent while one reads it, or when one ended by a crash). */
    releasedAt?: string
    /** When `check` or the next watch will drop it (released + retention). */
    dropsAfter?: string
  }
}

/**
 * The connection's consumers (`listChangeFeeds`) after dropping expired
 * released watches, each watch's with its release time. Undefined when the
 * connector keeps no change feeds.
 */
export async function reportChangeFeeds(
  connection: string,
  connector: Connector,
  state: StateStore,
  retentionMs: number,
): Promise<{ feeds: ChangeFeedReport[]; dropped: DroppedWatches } | undefined> {
  if (!connector.capabilities.cdc || connector.listChangeFeeds === undefined) return undefined
  const dropped = await dropReleasedWatches(connection, connector, state, retentionMs)
  const watches = new Map((await state.listWatchConsumers(connection)).map((w) => [w.consumer, w]))
  const feeds = (await connector.listChangeFeeds()).map((status): ChangeFeedReport => {
    const watch = watches.get(status.consumer)
    if (watch === undefined) return status
    const released = watch.releasedAt
    return {
      ...status,
      watch: released === undefined ? {} : { releasedAt: released, dropsAfter: new Date(Date.parse(released) + retentionMs).toISOString() },
    }
  })
  return { feeds, dropped }
}
