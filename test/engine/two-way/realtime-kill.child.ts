/**
 * Child process of realtime-kill.test.ts: runs the realtime two-way sync of
 * the plan in argv[2] (JSON) and kills itself with SIGKILL the moment the
 * engine starts writing to the source, i.e. after the destination committed
 * a batch's writes and before the source got any, its base not moved and
 * neither feed's position acknowledged: a crash between the two sides.
 */
import { SyncManager } from '../../../src/sync-manager.js'

const [planJson, baseDir, syncId] = process.argv.slice(2)
const manager = await SyncManager.open({ config: JSON.parse(planJson!) as object, baseDir: baseDir! })
const source = await manager.connector('src')
source.apply = async () => {
  process.kill(process.pid, 'SIGKILL')
  throw new Error('unreachable: killed')
}
// Streams until killed; a stream that ends by itself (nothing written to the source) fails the test on the exit code.
await manager.run(syncId!, { signal: AbortSignal.timeout(30_000) })
process.exit(3)
