/**
 * Opening the plan for a command: `--config`, else `$SYNCLINE_CONFIG`, else
 * `./syncline.yaml`; the manager is always closed afterwards.
 */
import type { Plan } from '../plan/schema.js'
import { SyncManager } from '../sync-manager.js'
import { hideSecrets, type GlobalOptions } from './output.js'

/** Open the plan, run `fn` with its manager, and close it whatever happens. */
export async function withManager<T>(opts: GlobalOptions, fn: (manager: SyncManager) => Promise<T>): Promise<T> {
  const manager = await SyncManager.open(opts.config === undefined ? {} : { config: opts.config })
  hideSecrets(planSecrets(manager.plan))
  try {
    return await fn(manager)
  } finally {
    await manager.close()
  }
}

/** Every password, webhook token and secret the plan holds: given apart, in a URL's user info, or as a `password` URL parameter. */
export function planSecrets(plan: Plan): string[] {
  const secrets: (string | undefined)[] = [plan.state, ...Object.values(plan.connections).map((c) => c.url)].flatMap(urlSecrets)
  for (const connection of Object.values(plan.connections)) secrets.push(connection.password, connection.token, connection.secret)
  return secrets.filter((s): s is string => s !== undefined && s !== '')
}

function urlSecrets(url: string): (string | undefined)[] {
  try {
    const parsed = new URL(url)
    return [decodeURIComponent(parsed.password), parsed.searchParams.get('password') ?? undefined]
  } catch {
    return [] // a file path: no secrets
  }
}
