/** `syncline discover CONNECTION [ENTITY]`: list entities, fields, types and keys. */
import type { SynclineError } from '../errors.js'
import type { EntityInfo } from '../values/canonical.js'
import { withManager } from './context.js'
import { EXIT, log, print, printJson, type GlobalOptions } from './output.js'

/**
 * Print the entities of a connection, or one entity in detail. An entity
 * that cannot be read (a broken CSV file) is listed with the reason, the
 * others as usual, and the exit code is 1.
 */
export async function discoverCommand(connection: string, entity: string | undefined, opts: GlobalOptions): Promise<number> {
  return withManager(opts, async (manager) => {
    const unreadable: Array<{ name: string; error: SynclineError }> = []
    const entities = await manager.discover(connection, entity, { onUnreadable: (name, error) => unreadable.push({ name, error }) })
    const listed = [...entities.map((e) => ({ name: e.name, entity: e })), ...unreadable].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    for (const item of listed) {
      if ('entity' in item) {
        if (opts.json) printJson(item.entity)
        else print(describeEntity(item.entity, entity !== undefined))
      } else if (opts.json) {
        printJson({ name: item.name, error: { message: item.error.message, code: item.error.code, failure: item.error.failure } })
      } else {
        print(`${item.name}  cannot be read: ${item.error.message}`)
      }
    }
    if (listed.length === 0 && !opts.json) print(`${connection} has no entities.`)
    if (unreadable.length > 0 && !opts.json) log(`error: ${unreadable.length} of ${listed.length} entities of ${connection} cannot be read (listed above with the reason); the others are listed as usual.`)
    return unreadable.length > 0 ? EXIT.syncFailed : EXIT.ok
  })
}

function describeEntity(e: EntityInfo, detailed: boolean): string {
  const key = e.primaryKey.length > 0 ? `key (${e.primaryKey.join(', ')})` : 'no primary key'
  if (!detailed) return `${e.name}  ${e.fields.length} fields, ${key}`
  const width = Math.max(...e.fields.map((f) => f.name.length), 4)
  const lines = [`${e.name}  ${key}`]
  for (const f of e.fields) {
    const flags = [e.primaryKey.includes(f.name) ? 'key' : '', f.nullable ? '' : 'not null'].filter(Boolean).join(', ')
    lines.push(`  ${f.name.padEnd(width)}  ${f.type.padEnd(9)}  ${f.nativeType}${flags ? `  (${flags})` : ''}`)
  }
  for (const fk of e.foreignKeys) lines.push(`  foreign key (${fk.fields.join(', ')}) → ${fk.references.entity} (${fk.references.fields.join(', ')})`)
  return lines.join('\n')
}
