/**
 * The durable change-feed consumer of a realtime sync, named after the sync.
 */
import { createHash } from 'node:crypto'

/**
 * The consumer name of a realtime sync: `sync_`, the id made safe for
 * `[a-z0-9_]` and cut to fit, and a short hash of the exact id. The hash
 * keeps ids that differ only in `-` vs `_` (or beyond the cut) apart, so two
 * syncs never share a slot or change-log position.
 * @example consumerName('orders-eu') // 'sync_orders_eu_3b9e41'
 */
export function consumerName(syncId: string): string {
  const hash = createHash('sha256').update(syncId).digest('hex').slice(0, 6)
  const safe = syncId.toLowerCase().replace(/[^a-z0-9_]/g, '_').slice(0, 28)
  return `sync_${safe}_${hash}`
}
