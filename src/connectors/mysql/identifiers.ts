/**
 * Names MySQL and MariaDB can never hold. Their identifiers (database,
 * table and column names) are stored as utf8mb3, which has no characters
 * beyond U+FFFF: no emoji, no supplementary CJK. Such a name fails deep in
 * the server ("Illegal mix of collations" when looked up, "Invalid utf8mb4
 * character string" when created); these checks say so first, naming the
 * entity or field and a name to use instead.
 */
import { SynclineError } from '../../errors.js'
import type { FieldInfo } from '../../values/canonical.js'

const BEYOND_BMP = /[\u{10000}-\u{10FFFF}]/u
const BEYOND_BMP_ALL = /[\u{10000}-\u{10FFFF}]/gu

const WHY = 'MySQL and MariaDB names cannot hold emoji or other characters beyond U+FFFF (identifiers are stored as utf8mb3)'

/** The name without those characters (and the separators they leave at its ends), for a suggestion. */
function plainName(name: string): string {
  const plain = name.replace(BEYOND_BMP_ALL, '').replace(/^[\s_.-]+|[\s_.-]+$/g, '')
  return plain === '' || plain.endsWith('.') ? 'a name without them' : plain
}

/**
 * The error for an entity name no table can have, or undefined when it can.
 * @param where `connection 'shop' (127.0.0.1:3306/shop)`
 * @example unholdableEntity('pizza🍕', where)?.message // "Entity 'pizza🍕' in …: MySQL and MariaDB names cannot hold emoji … e.g. 'pizza' …"
 */
export function unholdableEntity(entity: string, where: string): SynclineError | undefined {
  if (!BEYOND_BMP.test(entity)) return undefined
  const plain = plainName(entity)
  return new SynclineError(
    'PLAN_INVALID',
    'config',
    `Entity '${entity}' in ${where}: ${WHY}, so no such table can exist there. ` +
      `Use a name without them, e.g. '${plain}' (destination.entity: ${plain}, with create: true, makes a new table).`,
    { details: { entity } },
  )
}

/** The error for the first field no column can be named after, or undefined when all can. */
export function unholdableField(entity: string, fields: readonly FieldInfo[], where: string): SynclineError | undefined {
  const field = fields.find((f) => BEYOND_BMP.test(f.name))
  if (!field) return undefined
  const plain = plainName(field.name)
  return new SynclineError(
    'PLAN_INVALID',
    'config',
    `Cannot create table '${entity}' in ${where}: field '${field.name}' cannot be a column name there; ${WHY}. ` +
      `Map it to another name: mapping: { fields: [{ source: "${field.name}", destination: ${plain} }] }.`,
    { details: { entity, field: field.name } },
  )
}
