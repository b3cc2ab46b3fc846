/** `syncline discover CONNECTION [ENTITY]`: list entities, fields, types and keys. */
import type { EntityInfo } from '../values/canonical.js'
import { withManager } from './context.js'
import { print, printJson, type GlobalOptions } from './output.js'

/** Print the entities of a connection, or one entity in detail. */
export async function discoverCommand(connection: string, entity: string | undefined, opts: GlobalOptions): Promise<number> {
  return withManager(opts, async (manager) => {
    const entities = await manager.discover(connection, entity)
    if (opts.json) {
      for (const e of entities) printJson(e)
      return 0
    }
    if (entities.length === 0) print(`${connection} has no entities.`)
    for (const e of entities) print(describeEntity(e, entity !== undefined))
    return 0
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
