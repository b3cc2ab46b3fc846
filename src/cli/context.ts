/**
 * Opening the plan for a command: `--config`, else `$SYNCLINE_CONFIG`, else
 * `./syncline.yaml`; the manager is always closed afterwards.
 */
import { SyncManager } from '../sync-manager.js'
import type { GlobalOptions } from './output.js'

/** Open the plan, run `fn` with its manager, and close it whatever happens. */
export async function withManager<T>(opts: GlobalOptions, fn: (manager: SyncManager) => Promise<T>): Promise<T> {
  const manager = await SyncManager.open(opts.config === undefined ? {} : { config: opts.config })
  try {
    return await fn(manager)
  } finally {
    await manager.close()
  }
}
