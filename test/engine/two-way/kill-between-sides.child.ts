/**
 * Child process of kill-between-sides.test.ts: runs the two-way sync of the
 * plan in argv[2] (JSON) and kills itself with SIGKILL the moment the
 * engine starts writing to the source, i.e. after the destination committed
 * its writes and before the source got any: a crash between the two sides.
 */
import { SyncManager } from '../../../src/sync-manager.js'

const [planJson, baseDir] = process.argv.slice(2)
const manager = await SyncManager.open({ config: JSON.parse(planJson!) as object, baseDir: baseDir! })
const source = await manager.connector('src')
source.apply = async () => {
  process.kill(process.pid, 'SIGKILL')
  throw new Error('unreachable: killed')
}
await manager.run('items')
// Reached only when nothing had to be written to the source: the test fails on the exit code.
process.exit(3)
