/** `syncline automap SRC ENTITY DST ENTITY`: print the mapping auto-map would use. */
import { withManager } from './context.js'
import { print, printJson, type GlobalOptions } from './output.js'

/** Print the field pairs, as YAML ready to paste into `mapping.fields`. */
export async function automapCommand(source: string, sourceEntity: string, destination: string, destinationEntity: string, opts: GlobalOptions): Promise<number> {
  return withManager(opts, async (manager) => {
    const pairs = await manager.autoMap(source, sourceEntity, destination, destinationEntity)
    if (opts.json) {
      printJson({ fields: pairs })
      return 0
    }
    if (pairs.length === 0) {
      print(`No fields of ${sourceEntity} match a field of ${destinationEntity}; map them explicitly under mapping.fields.`)
      return 0
    }
    print(`# ${source}.${sourceEntity} → ${destination}.${destinationEntity}\nmapping:\n  fields:`)
    for (const p of pairs) print(`    - { source: ${JSON.stringify(p.source)}, destination: ${JSON.stringify(p.destination)} }`)
    return 0
  })
}
