/**
 * Statements the binlog keeps as text even in ROW format, and which of
 * them remove a table's rows without any row event a feed could follow.
 */

const unquote = (name: string) => name.trim().replace(/^`|`$/g, '').replace(/``/g, '`')

/** `` `db`.`t` ``, `db.t`, `t` (in `defaultSchema`) at the start of `raw` → [db, t]. */
function tableName(raw: string, defaultSchema: string): [string, string] | undefined {
  const match = /^(`(?:[^`]|``)*`|[^\s.`,]+)(?:\s*\.\s*(`(?:[^`]|``)*`|[^\s.`,]+))?/.exec(raw.trim())
  if (!match) return undefined
  return match[2] === undefined ? [defaultSchema, unquote(match[1]!)] : [unquote(match[1]!), unquote(match[2])]
}

/**
 * What a logged statement did to table `database`.`table` when it removed
 * rows without row events (`TRUNCATE TABLE`, `DROP TABLE`, `RENAME TABLE`
 * away from its name, `DROP DATABASE`), or undefined. `defaultSchema` is
 * the statement's default database (the Query event's).
 * @example rowsLostBy('TRUNCATE `shop`.`orders`', 'other', 'shop', 'orders') // 'TRUNCATE TABLE'
 */
export function rowsLostBy(query: string, defaultSchema: string, database: string, table: string): string | undefined {
  const sql = query.replace(/\/\*.*?\*\//gs, ' ').trim()
  const isOurs = (raw: string) => {
    const name = tableName(raw, defaultSchema)
    return name !== undefined && name[0] === database && name[1] === table
  }
  let match = /^TRUNCATE\s+(?:TABLE\s+)?(.+)$/is.exec(sql)
  if (match && isOurs(match[1]!)) return 'TRUNCATE TABLE'
  match = /^DROP\s+TABLES?\s+(?:IF\s+EXISTS\s+)?(.+)$/is.exec(sql)
  if (match && match[1]!.split(',').some(isOurs)) return 'DROP TABLE'
  match = /^RENAME\s+TABLES?\s+(.+)$/is.exec(sql)
  if (match && match[1]!.split(',').some((pair) => isOurs(pair.split(/\s+TO\s+/i)[0]!))) return 'RENAME TABLE'
  match = /^DROP\s+(?:DATABASE|SCHEMA)\s+(?:IF\s+EXISTS\s+)?(\S+)/is.exec(sql)
  if (match && unquote(match[1]!) === database) return 'DROP DATABASE'
  return undefined
}
