/**
 * A sync whose destination is its own source: one physical table reached
 * through two connection names (two spellings of a SQLite path, `127.0.0.1`
 * and `localhost`), or two names of one table on one connection. It would
 * overwrite the rows it reads, and a filtered full sync with deletes would
 * delete the source rows the filter leaves out. `run` and `validate --live`
 * refuse it with this message.
 */
import type { PhysicalIdentity } from '../connectors/connector.js'
import type { SyncPlan } from './schema.js'

/**
 * The problem, or undefined when the two identities are different tables
 * (or either is unknown).
 * @example sameTableProblem(sync, await shop.physicalIdentity?.('items'), await copy.physicalIdentity?.('items'))
 */
export function sameTableProblem(sync: SyncPlan, source: PhysicalIdentity | undefined, destination: PhysicalIdentity | undefined): string | undefined {
  if (!source || !destination || source.key !== destination.key) return undefined
  const from = sync.source.connection
  const to = sync.destination.connection
  const both =
    from === to
      ? `source '${from}.${sync.source.entity}' and destination '${to}.${sync.destination.entity}' are both`
      : `connections '${from}' (source) and '${to}' (destination) both reach`
  return (
    `${both} ${source.label}: the sync would write into its own source, and its deletes would remove source rows. ` +
    `Point the destination at another table, database or file.`
  )
}
