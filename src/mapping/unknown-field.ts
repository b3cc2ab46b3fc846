/**
 * The one wording for "this field does not exist", shared by the mapping and
 * filter checks so `syncline validate` reads the same everywhere.
 */
import { closestName } from '../errors.js'
import type { EntityInfo } from '../values/canonical.js'

/** Up to 30 field names of an entity, for "its fields are: …". */
export function fieldList(entity: EntityInfo): string {
  const names = entity.fields.map((f) => f.name)
  return names.length > 30 ? `${names.slice(0, 30).join(', ')}, …` : names.join(', ')
}

/**
 * What to add after naming an unknown field: ` Did you mean 'Name'?` when
 * one is close, otherwise `; its fields are: a, b, c`.
 */
export function fieldHint(name: string, entity: EntityInfo): string {
  const match = closestName(name, entity.fields.map((f) => f.name))
  return match === undefined ? `; its fields are: ${fieldList(entity)}` : `. Did you mean '${match}'?`
}

/**
 * `unknown source field 'Nmae' in Customer. Did you mean 'Name'?`
 * @param what how to call the field: `source field`, `key field`…
 */
export function unknownField(what: string, name: string, entity: EntityInfo): string {
  return `unknown ${what} '${name}' in ${entity.name}${fieldHint(name, entity)}`
}
