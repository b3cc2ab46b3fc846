/**
 * Writing to MySQL: one transaction per batch, deletes then upserts.
 *
 * Rows are checked before anything is sent (record-check.ts), so a value
 * MySQL would reject or silently change is a RecordError naming the record,
 * the field and the limit; a data error the server raises anyway rolls the
 * whole batch back and is pinned to its record where MySQL says `at row N`.
 * Only the columns present in the rows are written; other destination
 * columns keep their values or defaults. Applying a batch twice is the same
 * as applying it once.
 */
import { SynclineError, throwIfAborted } from '../../errors.js'
import type { ApplyBatch, ApplyOptions, ApplyResult } from '../connector.js'
import { columnOf, dedupeByKey, groupByColumns, keysRequired } from '../sql/key-rows.js'
import { classifyMysqlError, isConnectionBroken } from './errors.js'
import { resumeChecks, suspendChecks } from './foreign-keys.js'
import type { MyColumn, MyTable } from './introspect.js'
import { needsCollisionCheck } from './key-collisions.js'
import { holdConnection, type HeldConnection } from './pool.js'
import { checkRows, checkRowSizes } from './record-check.js'
import type { MyContext } from './source.js'
import { canUpsert, deleteRows, updateThenInsert, upsertRows, type WriteTarget } from './write-paths.js'

/**
 * Apply deletes then upserts in one transaction. A rejected record throws
 * a RecordError after the transaction is rolled back; the connection goes
 * back to the pool clean, so the engine can split the batch and retry.
 * @returns `upserted`: rows inserted or changed (unchanged rows are not
 *   counted); `deleted`: rows that existed and were deleted.
 */
export async function applyBatch(ctx: MyContext, entity: string, batch: ApplyBatch, opts: ApplyOptions): Promise<ApplyResult> {
  throwIfAborted(opts.signal)
  if (batch.upserts.length === 0 && batch.deletes.length === 0) return { upserted: 0, deleted: 0 }
  const table = await ctx.table(entity)
  const server = await ctx.server()
  if (!table.writable) {
    throw new SynclineError('PLAN_INVALID', 'config', `Entity '${table.info.name}' is a view; syncline cannot write to it. Use a table as the destination.`)
  }
  if (opts.keys.length === 0) throw keysRequired(table.info.name)
  for (const key of opts.keys) columnOf(table, key)
  const groups = groupByColumns(table, dedupeByKey(batch.upserts, opts.keys), opts.keys, refuseGenerated(table))
  for (const group of groups) {
    checkRows(table, group.columns, group.rows, opts.keys)
    checkRowSizes(table, group.columns, group.rows, opts.keys, server.maxAllowedPacket)
  }
  const checkCollisions = needsCollisionCheck(table, opts.keys)

  let held: HeldConnection | undefined
  let broken = false
  let suspended = false
  try {
    held = await holdConnection(ctx.pool())
    const { connection } = held
    suspended = await suspendChecks(connection, opts.foreignKeyChecks)
    await connection.beginTransaction()
    const deleted = batch.deletes.length > 0 ? await deleteRows(connection, table, opts.keys, batch.deletes) : 0
    let upserted = 0
    for (const group of groups) {
      const target: WriteTarget = { connection, table, server, keys: opts.keys, columns: group.columns, checkCollisions }
      upserted += canUpsert(table, opts.keys, group.columns) ? await upsertRows(target, group.rows) : await updateThenInsert(target, group.rows)
      throwIfAborted(opts.signal)
    }
    await connection.commit()
    return { upserted, deleted }
  } catch (error) {
    broken = isConnectionBroken(error)
    if (held && !broken) {
      await held.connection.rollback().catch(() => {
        broken = true
      })
    }
    throw classifyMysqlError(error, ctx.errorContext(table.info.name))
  } finally {
    // A pooled connection never goes back without its foreign key checks.
    if (held && suspended && !broken && !(await resumeChecks(held.connection))) broken = true
    held?.release(broken)
  }
}

/** Refuse a group of columns MySQL computes itself. */
function refuseGenerated(table: MyTable): (columns: MyColumn[]) => void {
  return (columns) => {
    const generated = columns.find((c) => c.generated)
    if (generated) {
      throw new SynclineError(
        'PLAN_INVALID',
        'config',
        `Field ${generated.field.name} of '${table.info.name}' is a generated column; MySQL computes it and syncline cannot write it. Leave it out of the mapping.`,
      )
    }
  }
}
