/**
 * Writing to PostgreSQL: one transaction per batch, deletes then upserts
 * (a batch that is one statement is a transaction by itself).
 *
 * Upserts are guarded `INSERT … ON CONFLICT (keys) DO UPDATE … WHERE
 * changed`, so rows that did not change are not rewritten (no dead tuples,
 * no WAL), and applying a batch twice is the same as applying it once. Only
 * the columns present in the rows are written; other destination columns
 * keep their values or defaults. The rows travel as `unnest` arrays, or by
 * COPY for large batches (write-paths.ts, with the measurements below).
 * Serial and identity sequences are moved past the ids written (sequences.ts).
 */
import type pg from 'pg'
import { SynclineError, throwIfAborted } from '../../errors.js'
import type { KeyValues } from '../../values/canonical.js'
import type { ApplyBatch, ApplyOptions, ApplyResult } from '../connector.js'
import { columnOf, dedupeByKey, groupByColumns, keysRequired, type RowGroup as KeyRowGroup } from '../sql/key-rows.js'
import { ParamList } from '../sql/sql-builder.js'
import { classifyPgError, isConnectionBroken } from './errors.js'
import { beginWriting } from './foreign-keys.js'
import type { PgColumn, PgTable } from './introspect.js'
import { holdClient, type HeldClient } from './pool.js'
import { checkRows } from './record-check.js'
import { advanceSequencesPast, hasSequences } from './sequences.js'
import { keyArray, type PgContext } from './source.js'
import { copyOrUpsert, hasUniqueKey, stagedUpsert, upsertRows } from './write-paths.js'

/**
 * Smallest `allNew` batch that is COPYed straight in rather than upserted.
 * Measured through `apply` on 1,000,000 new rows of a 6-column table (median
 * of 3, busy 2-core machine): COPY 4.2 s in 5,000-row batches and 3.1 s in
 * 50,000-row batches, against 5.7 s / 6.9 s for the unnest upsert and
 * 6.0 s / 4.9 s for COPY into a staging table + upsert.
 */
export const COPY_MIN_ROWS = 2_000

/**
 * Smallest batch (without `allNew`) that is COPYed into a temporary table
 * and upserted from there rather than sent as `unnest` arrays. Same
 * measurement: staging wins for large batches of new rows (4.9 s vs 6.9 s
 * at 50,000) and ties on updates (8.9 s vs 9.5 s); at 5,000 rows unnest is
 * ahead (5.7 s vs 6.0 s new, 8.1 s vs 9.3 s updates).
 */
export const STAGED_MIN_ROWS = 20_000

/** How a batch of upserts is written: `unnest` arrays, COPY into a staging table, or COPY straight in. */
export type UpsertPath = 'upsert' | 'staged' | 'copy'

/** Options for {@link applyBatch} beyond the contract's. */
export interface SinkOptions extends ApplyOptions {
  /** Force a write path (benchmarks and tests); default: chosen by `allNew` and size. */
  path?: UpsertPath
}

/**
 * Apply deletes then upserts in one transaction. A rejected record (too
 * long, NULL in a NOT NULL column, a constraint) throws a RecordError after
 * the transaction is rolled back; the connection goes back to the pool
 * clean, so the engine can split the batch and retry the halves.
 * @returns `upserted`: rows inserted or changed (unchanged rows are not
 *   counted); `deleted`: rows that existed and were deleted.
 */
export async function applyBatch(ctx: PgContext, entity: string, batch: ApplyBatch, opts: SinkOptions): Promise<ApplyResult> {
  throwIfAborted(opts.signal)
  if (batch.upserts.length === 0 && batch.deletes.length === 0) return { upserted: 0, deleted: 0 }
  const table = await ctx.table(entity)
  if (!table.writable) {
    throw new SynclineError('PLAN_INVALID', 'config', `Entity '${table.info.name}' is a view; syncline cannot write to it. Use a table as the destination.`)
  }
  if (opts.keys.length === 0) throw keysRequired(table.info.name)
  for (const key of opts.keys) columnOf(table, key)
  const groups = groupByColumns(table, dedupeByKey(batch.upserts, opts.keys), opts.keys)
  for (const group of groups) checkRows(table, group.columns, group.rows, opts.keys)

  let held: HeldClient | undefined
  let broken = false
  let inTransaction = false
  try {
    held = await holdClient(ctx.pool())
    const { client } = held
    if (isOneStatement(table, batch, groups, opts)) return { upserted: await writeGroup(client, table, groups[0]!, opts), deleted: 0 }
    // Set first: beginWriting's own statements may fail inside the transaction it began.
    inTransaction = true
    await beginWriting(client, table, ctx.errorContext().endpoint.user, opts.foreignKeyChecks)
    const deleted = batch.deletes.length > 0 ? await deleteRows(client, table, opts.keys, batch.deletes) : 0
    let upserted = 0
    for (const group of groups) upserted += await writeGroup(client, table, group, opts)
    await advanceSequencesPast(client, table, batch.upserts)
    await client.query('COMMIT')
    return { upserted, deleted }
  } catch (error) {
    broken = isConnectionBroken(error) || held?.lost !== undefined
    if (held && !broken && inTransaction) {
      // A data error leaves the transaction aborted: roll back so the connection goes back clean.
      await held.client.query('ROLLBACK').catch(() => {
        broken = true
      })
    }
    throw classifyPgError(error, ctx.errorContext(table.info.name))
  } finally {
    held?.release(broken)
  }
}

/**
 * Whether the batch is written by one statement, which commits by itself:
 * then it goes without BEGIN and COMMIT, two of the three round trips of
 * a small batch (a re-sync writes the rows that differ 250 at a time).
 */
function isOneStatement(table: PgTable, batch: ApplyBatch, groups: readonly RowGroup[], opts: SinkOptions): boolean {
  return batch.deletes.length === 0 && groups.length === 1 && pathOf(groups[0]!, opts) === 'upsert' && hasUniqueKey(table, opts.keys) && opts.foreignKeyChecks !== 'off' && !hasSequences(table)
}

/** The fastest safe path for a group's size and the `allNew` hint. */
function pathOf(group: RowGroup, opts: SinkOptions): UpsertPath {
  const rows = group.rows.length
  return opts.path ?? (opts.allNew === true && rows >= COPY_MIN_ROWS ? 'copy' : rows >= STAGED_MIN_ROWS ? 'staged' : 'upsert')
}

/** Write one group of rows by {@link pathOf}'s path. */
function writeGroup(client: pg.PoolClient, table: PgTable, group: RowGroup, opts: SinkOptions): Promise<number> {
  const { columns, rows } = group
  const large = rows.length >= STAGED_MIN_ROWS
  switch (pathOf(group, opts)) {
    case 'copy':
      return copyOrUpsert(client, table, columns, rows, opts.keys, () => (large ? stagedUpsert : upsertRows)(client, table, columns, rows, opts.keys))
    case 'staged':
      return stagedUpsert(client, table, columns, rows, opts.keys)
    case 'upsert':
      return upsertRows(client, table, columns, rows, opts.keys)
  }
}

type RowGroup = KeyRowGroup<PgColumn>

/** Delete rows by key: `= ANY($1)` for one key field, a row-value IN over unnest for several. */
async function deleteRows(client: pg.PoolClient, table: PgTable, keys: readonly string[], deletes: readonly KeyValues[]): Promise<number> {
  const params = new ParamList(table.dialect)
  const parts = keys.map((k, i) => keyArray(table, k, deletes, i, params))
  const sql =
    parts.length === 1
      ? `DELETE FROM ${table.sql} WHERE ${parts[0]!.column} = ANY(${parts[0]!.array})`
      : `DELETE FROM ${table.sql} WHERE (${parts.map((p) => p.column).join(', ')}) IN (SELECT * FROM unnest(${parts.map((p) => p.array).join(', ')}))`
  return (await client.query(sql, params.values)).rowCount ?? 0
}
