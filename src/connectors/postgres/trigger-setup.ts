/**
 * Installing and removing PostgreSQL's trigger-based change capture: the
 * change-log schema, the trigger on each captured table, and the consumer
 * rows that keep a position per consumer and entity. Privilege failures
 * become `CDC_NOT_READY` naming the GRANT to run.
 */
import type pg from 'pg'
import { SynclineError } from '../../errors.js'
import type { ChangeFeedStatus } from '../change-feed.js'
import { INSTALL_CHANGE_LOG, NOTIFY_TRIGGER_NAME, TRIGGER_NAME, TRUNCATE_TRIGGER_NAME, WHOLE_TRANSACTION } from './change-log-sql.js'
import { quoteIdent } from './dialect.js'
import type { Endpoint } from './pool.js'
import { formatLogPosition } from './trigger-position.js'

/** Something that runs a query (pool or client). */
type Db = Pick<pg.ClientBase, 'query'>

/** The application_name of a running feed's listening connection (how `listChangeFeeds` tells it is active). */
export function feedApplicationName(consumer: string): string {
  return `syncline feed ${consumer}`
}

function pgCode(error: unknown): string | undefined {
  return (error as { code?: string } | undefined)?.code
}

/** Whether the change-log schema is installed in this database. */
export async function changeLogInstalled(db: Db): Promise<boolean> {
  const { rows } = await db.query<{ installed: boolean }>(
    `SELECT to_regclass('syncline.consumers') IS NOT NULL AND to_regprocedure('syncline.capture()') IS NOT NULL
            AND to_regprocedure('syncline.capture_truncate()') IS NOT NULL AND to_regprocedure('syncline.notify_changes()') IS NOT NULL AS installed`,
  )
  return rows[0]?.installed ?? false
}

/**
 * Create the schema, tables and trigger function when missing (needs CREATE
 * on the database the first time). Two feeds installing at once: the loser
 * of the race on the schema name retries and finds it installed.
 */
export async function installChangeLog(db: Db, endpoint: Endpoint): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    if (await changeLogInstalled(db)) return
    try {
      await db.query(INSTALL_CHANGE_LOG)
      return
    } catch (error) {
      if (pgCode(error) === '42501') {
        throw new SynclineError(
          'CDC_NOT_READY',
          'config',
          `Trigger-based capture on ${endpoint.label} needs its schema 'syncline', and user '${endpoint.user}' may not create it: run GRANT CREATE ON DATABASE ${quoteIdent(endpoint.database)} TO ${quoteIdent(endpoint.user)} (or create the schema once as another user with the same statements).`,
          { cause: error },
        )
      }
      // 23505/42P06: another session created the schema at the same moment.
      if (attempt === 0 && (pgCode(error) === '23505' || pgCode(error) === '42P06' || pgCode(error) === '42710')) continue
      throw error
    }
  }
}

/** The capture triggers: the row trigger, and the statement trigger that logs a TRUNCATE as row deletes. */
const TRIGGERS: ReadonlyArray<{ name: string; definition: string }> = [
  { name: TRIGGER_NAME, definition: 'AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION syncline.capture(%k)' },
  { name: TRUNCATE_TRIGGER_NAME, definition: 'BEFORE TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION syncline.capture_truncate(%k)' },
  { name: NOTIFY_TRIGGER_NAME, definition: 'AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION syncline.notify_changes(%k)' },
]

/** A SQL string literal (trigger arguments cannot be parameters); E'' whatever standard_conforming_strings says. */
function literal(text: string): string {
  return `E'${text.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`
}

/**
 * Create the capture triggers on a table where missing, each told the
 * entity key it logs under. CREATE TRIGGER
 * locks out writers until the caller's transaction commits, so every write
 * after that commit is captured and none before it is half-captured.
 */
export async function ensureTrigger(db: Db, schema: string, table: string, entityKey: string, endpoint: Endpoint): Promise<void> {
  const { rows } = await db.query<{ name: string }>(
    `SELECT t.tgname AS name FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2`,
    [schema, table],
  )
  const present = new Set(rows.map((r) => r.name))
  const target = `${quoteIdent(schema)}.${quoteIdent(table)}`
  try {
    for (const trigger of TRIGGERS) {
      if (!present.has(trigger.name)) await db.query(`CREATE TRIGGER ${quoteIdent(trigger.name)} ${trigger.definition.replace('%s', target).replace('%k', literal(entityKey))}`)
    }
  } catch (error) {
    if (pgCode(error) === '42501') {
      throw new SynclineError(
        'CDC_NOT_READY',
        'config',
        `Trigger-based capture of ${schema}.${table} on ${endpoint.label} needs a trigger on it, and user '${endpoint.user}' may not create one: run GRANT TRIGGER ON ${target} TO ${quoteIdent(endpoint.user)}.`,
        { cause: error },
      )
    }
    throw error
  }
}

/** A consumer's row: its acknowledged position and the snapshot its start was read in. */
export interface ConsumerRow {
  pos: string
  seq: string
  skip_snapshot: string | null
}

/** The consumer's row for an entity, locked for the caller's transaction; undefined when it has none. */
export async function consumerRow(db: Db, consumer: string, entityKey: string): Promise<ConsumerRow | undefined> {
  const { rows } = await db.query<ConsumerRow>(
    `SELECT pos::text AS pos, seq::text AS seq, skip_snapshot::text AS skip_snapshot FROM syncline.consumers WHERE consumer = $1 AND entity = $2 FOR UPDATE`,
    [consumer, entityKey],
  )
  return rows[0]
}

/**
 * Register (or restart) a consumer at the log's current end. Its row makes
 * the trigger write changes and keeps pruning from removing what it has
 * not read; `pos` is moved to the feed's exact start right after.
 */
export async function registerConsumer(db: Db, consumer: string, entityKey: string): Promise<void> {
  await db.query(
    `INSERT INTO syncline.consumers (consumer, entity, pos, seq)
     SELECT $1, $2, coalesce(max(pos), 0), ${WHOLE_TRANSACTION} FROM syncline.commits
     ON CONFLICT (consumer, entity) DO UPDATE SET pos = excluded.pos, seq = excluded.seq, skip_snapshot = NULL, acked_at = NULL`,
    [consumer, entityKey],
  )
}

/**
 * Forget a consumer on every entity. An entity left without consumers loses
 * its change-log rows and its trigger; when no consumer remains at all the
 * schema goes too (`DROP SCHEMA … CASCADE` also removes triggers on tables
 * the user does not own, which DROP TRIGGER would refuse). A trigger that
 * cannot be dropped while other entities are captured keeps logging, and
 * pruning removes those rows once every consumer is past them.
 */
export async function dropConsumer(db: Db, consumer: string): Promise<void> {
  if (!(await changeLogInstalled(db))) return
  await db.query('BEGIN')
  try {
    // Openers insert into consumers: this lock makes "no consumer remains" true until commit.
    await db.query('LOCK TABLE syncline.consumers IN EXCLUSIVE MODE')
    const removed = await db.query<{ entity: string }>('DELETE FROM syncline.consumers WHERE consumer = $1 RETURNING entity', [consumer])
    const left = await db.query<{ count: number }>('SELECT count(*)::int AS count FROM syncline.consumers')
    if ((left.rows[0]?.count ?? 0) === 0 && (await dropSchema(db))) {
      // Everything went with the schema.
    } else {
      for (const { entity } of removed.rows) await releaseEntity(db, entity)
    }
    await db.query('COMMIT')
  } catch (error) {
    await db.query('ROLLBACK').catch(() => undefined)
    throw error
  }
}

/** Drop the whole change log; false when the schema belongs to another user (then only this user's entities are released). */
async function dropSchema(db: Db): Promise<boolean> {
  await db.query('SAVEPOINT drop_schema')
  try {
    await db.query('DROP SCHEMA syncline CASCADE')
    await db.query('RELEASE SAVEPOINT drop_schema')
    return true
  } catch (error) {
    if (pgCode(error) !== '42501') throw error
    await db.query('ROLLBACK TO SAVEPOINT drop_schema')
    return false
  }
}

/** An entity's last consumer went: drop its change-log rows and, where allowed, its trigger. */
async function releaseEntity(db: Db, entityKey: string): Promise<void> {
  const still = await db.query('SELECT 1 FROM syncline.consumers WHERE entity = $1 LIMIT 1', [entityKey])
  if (still.rows.length > 0) return
  await db.query('DELETE FROM syncline.changes WHERE entity = $1', [entityKey])
  const { rows } = await db.query<{ schema: string; table: string }>(
    `SELECT n.nspname AS schema, c.relname AS table FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)`,
    [entityKey],
  )
  const table = rows[0]
  if (!table) return
  await db.query('SAVEPOINT drop_trigger')
  try {
    for (const trigger of TRIGGERS) await db.query(`DROP TRIGGER IF EXISTS ${quoteIdent(trigger.name)} ON ${quoteIdent(table.schema)}.${quoteIdent(table.table)}`)
    await db.query('RELEASE SAVEPOINT drop_trigger')
  } catch (error) {
    // Only the table's owner may drop its triggers; pruning cleans up after one left behind.
    if (pgCode(error) !== '42501') throw error
    await db.query('ROLLBACK TO SAVEPOINT drop_trigger')
  }
}

interface StatusRow {
  consumer: string
  entity: string
  pos: string
  seq: string
  pending: number
  active: boolean
}

/** Every consumer of the change log, with how many changes wait for it and whether a feed reads it now. */
export async function listConsumers(db: Db): Promise<ChangeFeedStatus[]> {
  if (!(await changeLogInstalled(db))) return []
  const { rows } = await db.query<StatusRow>(
    `SELECT k.consumer, k.entity, k.pos::text AS pos, k.seq::text AS seq,
            (SELECT count(*)::int FROM syncline.commits m JOIN syncline.changes c ON c.xid = m.xid AND c.entity = k.entity
              WHERE (m.pos, c.seq) > (k.pos, k.seq)) AS pending,
            EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datname = current_database() AND a.application_name = 'syncline feed ' || k.consumer) AS active
       FROM syncline.consumers k ORDER BY k.consumer, k.entity`,
  )
  return rows.map((r) => ({
    consumer: r.consumer,
    entity: r.entity,
    active: r.active,
    position: formatLogPosition({ pos: r.pos, seq: r.seq }),
    pendingChanges: r.pending,
  }))
}
