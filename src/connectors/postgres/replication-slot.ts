/**
 * The server-side half of a logical-replication consumer: one replication
 * slot and one publication, both named `syncline_<consumer>`. The
 * publication covers only the consumer's table (`FOR TABLE`), so the slot
 * decodes nothing else for it; the slot keeps the WAL the consumer has not
 * confirmed.
 *
 * Slots belong to the whole server, publications to one database: a slot
 * name taken by another database's consumer is refused, never dropped.
 */
import pg from 'pg'
import { ConnectionError, SynclineError, throwIfAborted } from '../../errors.js'
import type { ChangeFeedStatus } from '../change-feed.js'
import type { ConnectionConfig } from '../connector.js'
import { canonicalTypes } from './codec.js'
import { quoteIdent } from './dialect.js'
import { classifyPgError, type ErrorContext } from './errors.js'
import { formatLsn, parseLsn } from './logical-position.js'
import { connectionString } from './pool.js'
import type { PgTable } from './introspect.js'

const CONSUMER = /^[a-z0-9_]{1,40}$/

/** How long a slot may stay `active` after its reader disconnected before we give up waiting. */
const INACTIVE_WAIT_MS = 15_000

/**
 * The slot and publication name of a consumer, after checking the name.
 * @example slotName('sync_orders') // 'syncline_sync_orders'
 */
export function slotName(consumer: string): string {
  if (!CONSUMER.test(consumer)) {
    throw new SynclineError('PLAN_INVALID', 'config', `Change-feed consumer '${consumer}' is not a valid name: use 1 to 40 of a-z, 0-9 and _ (e.g. sync_orders).`)
  }
  return `syncline_${consumer}`
}

/** What pg_replication_slots says about one slot. */
export interface SlotRow {
  database: string | null
  active: boolean
  active_pid: number | null
  wal_status: string | null
  confirmed_flush_lsn: string | null
  restart_lsn: string | null
}

/** The slot's row, or undefined when no slot has that name. */
export async function readSlot(pool: pg.Pool, slot: string): Promise<SlotRow | undefined> {
  const { rows } = await pool.query<SlotRow>(
    `SELECT database::text, active, active_pid, wal_status, confirmed_flush_lsn::text, restart_lsn::text FROM pg_replication_slots WHERE slot_name = $1`,
    [slot],
  )
  return rows[0]
}

/** The database this pool is connected to. */
async function currentDatabase(pool: pg.Pool): Promise<string> {
  const { rows } = await pool.query<{ db: string }>('SELECT current_database() AS db')
  return rows[0]?.db ?? ''
}

/** Refuse a slot that another database's consumer owns: it cannot be ours to drop or read. */
export function assertOwnSlot(row: SlotRow, slot: string, database: string): void {
  if (row.database !== database) {
    throw new SynclineError(
      'CDC_NOT_READY',
      'config',
      `Replication slot '${slot}' belongs to database '${row.database ?? '(physical)'}' on this server, not '${database}': slot names are shared by the whole server. Give this feed another consumer name (the realtime sync's id, or the watch's).`,
    )
  }
}

/**
 * Wait until no walsender holds the slot: right after a reader disconnects
 * the server still shows it `active` for a moment, and dropping or
 * reading it then fails with 55006.
 */
export async function waitUntilInactive(pool: pg.Pool, slot: string, signal?: AbortSignal): Promise<SlotRow | undefined> {
  const deadline = Date.now() + INACTIVE_WAIT_MS
  for (;;) {
    throwIfAborted(signal)
    const row = await readSlot(pool, slot)
    if (!row?.active) return row
    if (Date.now() > deadline) {
      throw new SynclineError(
        'LOCKED',
        'transient',
        `Replication slot '${slot}' is in use by server process ${row.active_pid ?? '?'}: another feed of this consumer is reading it. Stop that feed (or SELECT pg_terminate_backend(${row.active_pid ?? 'pid'})) and try again.`,
      )
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/**
 * Make `syncline_<consumer>` publish exactly this table: created when
 * absent, recreated when it covers something else (a fresh start of the
 * consumer on another entity).
 */
export async function ensurePublication(pool: pg.Pool, name: string, table: PgTable): Promise<void> {
  const { rows } = await pool.query<{ schema: string | null; table: string | null }>(
    `SELECT t.schemaname AS schema, t.tablename AS table FROM pg_publication p LEFT JOIN pg_publication_tables t ON t.pubname = p.pubname WHERE p.pubname = $1`,
    [name],
  )
  const exact = rows.length === 1 && rows[0]!.schema === table.schema && rows[0]!.table === table.table
  if (exact) return
  if (rows.length > 0) await pool.query(`DROP PUBLICATION IF EXISTS ${quoteIdent(name)}`)
  await pool.query(`CREATE PUBLICATION ${quoteIdent(name)} FOR TABLE ${table.sql}`)
}

/** A slot just created, with the snapshot it exported; `client` must stay idle while the snapshot is in use. */
export interface CreatedSlot {
  client: pg.Client
  /** The LSN from which the slot decodes: the feed's start. */
  consistentPoint: bigint
  /** For `SET TRANSACTION SNAPSHOT`: the database exactly as of `consistentPoint`. */
  snapshotName: string
}

/** A pg client config for a replication connection with the pool's session settings (UTC, ISO dates). */
export function replicationClientConfig(config: ConnectionConfig): pg.ClientConfig & { replication: 'database' } {
  return { connectionString: connectionString(config), replication: 'database', application_name: 'syncline feed', types: canonicalTypes, keepAlive: true, connectionTimeoutMillis: 15_000 }
}

/**
 * Create the slot through a replication connection, exporting a snapshot
 * (`SNAPSHOT 'export'` from PostgreSQL 15 on, `EXPORT_SNAPSHOT` before).
 * The snapshot lives only while the returned client stays open and idle.
 */
export async function createSlot(config: ConnectionConfig, slot: string, context: ErrorContext, signal?: AbortSignal): Promise<CreatedSlot> {
  const client = new pg.Client(replicationClientConfig(config))
  client.on('error', () => undefined)
  // Creation waits until the transactions open on the server at that moment end (to find a consistent start): the signal cuts the wait short.
  const onAbort = () => void client.end().catch(() => undefined)
  signal?.addEventListener('abort', onAbort, { once: true })
  try {
    await client.connect()
    const version = Number((await client.query<{ server_version_num: string }>('SHOW server_version_num')).rows[0]?.server_version_num ?? 0)
    const options = version >= 150000 ? `(SNAPSHOT 'export')` : 'EXPORT_SNAPSHOT'
    const { rows } = await client.query<{ consistent_point: string; snapshot_name: string }>(`CREATE_REPLICATION_SLOT ${quoteIdent(slot)} LOGICAL pgoutput ${options}`)
    const row = rows[0]
    if (!row) throw new Error('CREATE_REPLICATION_SLOT returned no row')
    return { client, consistentPoint: parseLsn(row.consistent_point), snapshotName: row.snapshot_name }
  } catch (error) {
    await client.end().catch(() => undefined)
    throwIfAborted(signal)
    throw replicationError(error, context, slot)
  } finally {
    signal?.removeEventListener('abort', onAbort)
  }
}

/**
 * A server error about replication as a syncline error with the fix:
 * missing REPLICATION privilege, wal_level, no free slot or wal sender.
 */
export function replicationError(error: unknown, context: ErrorContext, slot: string): SynclineError {
  const code = (error as { code?: string } | undefined)?.code
  const message = error instanceof Error ? error.message : String(error)
  const at = `PostgreSQL at connection '${context.connection}' (${context.endpoint.label})`
  const notReady = (fix: string) => new SynclineError('CDC_NOT_READY', 'config', `${at} cannot capture changes for slot '${slot}': ${message}. ${fix}`, { cause: error })
  if (code === '42501' && /owner/i.test(message)) {
    return notReady(
      `Publishing a table takes its owner: have the owner (or a superuser) run CREATE PUBLICATION "${slot}" FOR TABLE ${context.entity ?? 'the table'}; the feed then uses it as it is, or ALTER TABLE … OWNER TO "${context.endpoint.user}".`,
    )
  }
  if (code === '42501' && /for database/i.test(message)) return notReady(`Creating the publication needs CREATE on the database: GRANT CREATE ON DATABASE "${context.endpoint.database}" TO "${context.endpoint.user}".`)
  if (code === '42501' && /replication/i.test(message)) return notReady(`Give the user replication rights: ALTER ROLE "${context.endpoint.user}" REPLICATION (or set cdc: triggers on the connection to capture with triggers instead).`)
  if (code === '55000' && /wal_level/.test(message)) return notReady(`Run ALTER SYSTEM SET wal_level = logical and restart PostgreSQL (or set cdc: triggers on the connection to capture with triggers instead).`)
  if (code === '53400') return notReady('All replication slots are in use: drop unused ones (SELECT pg_drop_replication_slot(name)) or raise max_replication_slots and restart.')
  if (code === '53300' && /wal.?sender/i.test(message)) return notReady('All WAL senders are in use: raise max_wal_senders and restart PostgreSQL.')
  return classifyPgError(error, context)
}

/** The POSITION_LOST error for a consumer whose slot cannot serve its position. */
export function positionLost(slot: string, consumer: string, why: string, cause?: unknown): SynclineError {
  return new SynclineError(
    'POSITION_LOST',
    'config',
    `Change feed '${consumer}' cannot resume: ${why}. Changes since its last position are gone from the WAL; start it again without a position (a realtime sync repairs itself with a snapshot comparison; for a watch, drop --since). To keep WAL longer next time, raise max_slot_wal_keep_size.`,
    { details: { slot }, ...(cause === undefined ? {} : { cause }) },
  )
}

/**
 * Check that a consumer's slot can resume: it exists in this database and
 * was not invalidated. Waits for a just-disconnected reader to let go.
 */
export async function resumableSlot(pool: pg.Pool, slot: string, consumer: string, signal?: AbortSignal): Promise<SlotRow> {
  const database = await currentDatabase(pool)
  const first = await readSlot(pool, slot)
  if (!first) throw positionLost(slot, consumer, `its replication slot '${slot}' does not exist (it was dropped)`)
  assertOwnSlot(first, slot, database)
  const row = (await waitUntilInactive(pool, slot, signal)) ?? first
  if (row.wal_status === 'lost') throw positionLost(slot, consumer, `its replication slot '${slot}' was invalidated (wal_status 'lost': it fell behind max_slot_wal_keep_size)`)
  return row
}

/** Drop a consumer's slot (once inactive) and publication; an unknown consumer is no error. */
export async function dropSlot(pool: pg.Pool, consumer: string, signal?: AbortSignal): Promise<void> {
  const slot = slotName(consumer)
  const database = await currentDatabase(pool)
  const row = await readSlot(pool, slot)
  if (row && row.database === database) {
    for (let attempt = 0; ; attempt++) {
      await waitUntilInactive(pool, slot, signal)
      try {
        await pool.query('SELECT pg_drop_replication_slot($1)', [slot])
        break
      } catch (error) {
        const code = (error as { code?: string }).code
        if (code === '42704') break // dropped meanwhile
        // 55006: a reader grabbed it between our look and the drop; wait again.
        if (code !== '55006' || attempt >= 5) throw error
      }
    }
  }
  await pool.query(`DROP PUBLICATION IF EXISTS ${quoteIdent(slot)}`).catch((error: { code?: string }) => {
    // A publication the table's owner made for a user who may not drop it: it keeps no WAL, so it may stay.
    if (error.code !== '42501') throw error
  })
}

/** Drop a slot if it exists in this database (a fresh start). */
export async function dropSlotIfPresent(pool: pg.Pool, slot: string, signal?: AbortSignal): Promise<void> {
  const row = await readSlot(pool, slot)
  if (!row) return
  assertOwnSlot(row, slot, await currentDatabase(pool))
  await waitUntilInactive(pool, slot, signal)
  await pool.query('SELECT pg_drop_replication_slot($1)', [slot]).catch((error: { code?: string }) => {
    if (error.code !== '42704') throw error
  })
}

interface ListRow {
  slot_name: string
  active: boolean
  confirmed: string | null
  lag: number | null
  retained: number | null
  wal_status: string | null
  entity: string | null
}

/** Every syncline slot of this database, with lag and retained WAL. */
export async function listSlots(pool: pg.Pool): Promise<ChangeFeedStatus[]> {
  const { rows } = await pool.query<ListRow>(
    `SELECT s.slot_name, s.active, s.confirmed_flush_lsn::text AS confirmed, s.wal_status,
            pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn)::float8 AS lag,
            pg_wal_lsn_diff(pg_current_wal_lsn(), s.restart_lsn)::float8 AS retained,
            (SELECT string_agg(t.schemaname || '.' || t.tablename, ', ') FROM pg_publication_tables t WHERE t.pubname = s.slot_name) AS entity
       FROM pg_replication_slots s
      WHERE s.database = current_database() AND s.plugin = 'pgoutput' AND s.slot_name LIKE 'syncline\\_%'
      ORDER BY s.slot_name`,
  )
  return rows.map((r) => ({
    consumer: r.slot_name.slice('syncline_'.length),
    ...(r.entity ? { entity: r.entity } : {}),
    active: r.active,
    ...(r.confirmed ? { position: formatLsn(parseLsn(r.confirmed)) } : {}),
    ...(r.lag !== null ? { lagBytes: Math.max(0, r.lag) } : {}),
    ...(r.retained !== null ? { retainedBytes: Math.max(0, r.retained) } : {}),
    ...(r.wal_status === 'lost' ? { lost: `slot ${r.slot_name} was invalidated (wal_status 'lost'): it fell behind max_slot_wal_keep_size` } : {}),
  }))
}

/** A lost replication connection as the transient error the engine restarts on. */
export function streamLost(context: ErrorContext, slot: string, cause: unknown): ConnectionError {
  const message = cause instanceof Error ? cause.message : String(cause)
  return new ConnectionError(
    'CONNECTION_LOST',
    'transient',
    `Lost the replication connection to PostgreSQL at ${context.endpoint.label} (connection '${context.connection}', slot '${slot}'): ${message}. Nothing acknowledged is lost: open the feed again from the last position (the realtime engine restarts by itself).`,
    { cause },
  )
}
