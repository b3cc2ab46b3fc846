/** `syncline init`: write a commented starter `syncline.yaml`. */
import Database from 'better-sqlite3'
import { existsSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { SynclineError } from '../errors.js'
import { STARTER_PLAN, STARTER_SOURCE_SQL } from '../plan/starter.js'
import { print, printJson, type GlobalOptions } from './output.js'

/** Write the starter plan; refuses to overwrite unless `force`. */
export async function initCommand(opts: GlobalOptions & { force?: boolean }): Promise<number> {
  const path = resolve(opts.config ?? process.env.SYNCLINE_CONFIG ?? 'syncline.yaml')
  if (existsSync(path) && !opts.force) {
    throw new SynclineError('PLAN_INVALID', 'config', `${path} exists already; edit it, or run 'syncline init --force' to replace it.`)
  }
  const dir = dirname(path)
  await mkdir(dir, { recursive: true })
  await writeFile(path, STARTER_PLAN, 'utf8')
  // The starter syncs shop.db into backup.db; give it a small table so the
  // plan runs as is.
  const shop = join(dir, 'shop.db')
  const createdShop = !existsSync(shop)
  if (createdShop) {
    const db = new Database(shop)
    db.exec(STARTER_SOURCE_SQL)
    db.close()
  }
  // An empty destination file too: a run would create it, but reading
  // commands (`syncline check`) report a SQLite file that is not there.
  const backup = join(dir, 'backup.db')
  if (!existsSync(backup)) new Database(backup).close()
  if (opts.json) printJson({ path, ...(createdShop ? { sampleDatabase: shop } : {}) })
  else print(`Wrote ${path}${createdShop ? ` and a sample ${shop}` : ''}. Next: 'syncline validate', then 'syncline run'.`)
  return 0
}
