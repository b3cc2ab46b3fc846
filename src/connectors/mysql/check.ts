/**
 * `check` for MySQL/MariaDB: the server version and flavour, whether binlog
 * change capture could run (log_bin, ROW format, FULL row images, a
 * server_id, the user's REPLICATION SLAVE, REPLICATION CLIENT and SELECT grants),
 * and character sets that cannot hold every text (anything but utf8mb4),
 * each problem with its fix.
 */
import type { Pool, RowDataPacket } from 'mysql2/promise'

/** What the server said, and what it means for change capture. */
export interface ServerReport {
  flavor: 'MariaDB' | 'MySQL'
  version: string
  cdc: { ready: boolean; reason?: string }
  details: Record<string, string | number | boolean>
}

interface SettingsRow extends RowDataPacket {
  version: string
  log_bin: number | string
  binlog_format: string | null
  binlog_row_image: string | null
  server_id: number | string
  user: string
  db: string | null
  charset_server: string
  collation_server: string
  max_allowed_packet: number | string
}

/**
 * Which replication privileges `SHOW GRANTS` lines give on `*.*`.
 * MariaDB 10.5+ also calls them REPLICATION REPLICA and BINLOG MONITOR.
 * @example replicationGrants(['GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO `sync`@`%`']) // { slave: true, client: true }
 */
export function replicationGrants(lines: readonly string[]): { slave: boolean; client: boolean } {
  let slave = false
  let client = false
  for (const line of lines) {
    const match = /^GRANT (.+?) ON \*\.\* TO /i.exec(line)
    if (!match) continue
    const privileges = match[1]!.split(',').map((p) => p.trim().toUpperCase())
    if (privileges.includes('ALL PRIVILEGES') || privileges.includes('ALL')) return { slave: true, client: true }
    if (privileges.includes('REPLICATION SLAVE') || privileges.includes('REPLICATION REPLICA')) slave = true
    if (privileges.includes('REPLICATION CLIENT') || privileges.includes('BINLOG MONITOR') || privileges.includes('SUPER')) client = true
  }
  return { slave, client }
}

/**
 * Whether `SHOW GRANTS` lines give SELECT on every table of `database`
 * (on `*.*` or on the database itself; table-level grants are not counted).
 * @example selectGrant(['GRANT SELECT ON `shop`.* TO `sync`@`%`'], 'shop') // true
 */
export function selectGrant(lines: readonly string[], database: string): boolean {
  for (const line of lines) {
    const match = /^GRANT (.+?) ON (\S+) TO /i.exec(line)
    if (!match) continue
    const on = match[2]!
    const target = on === '*.*' || on.replace(/`/g, '').replace(/\\_/g, '_') === `${database}.*`
    if (!target) continue
    const privileges = match[1]!.split(',').map((p) => p.trim().toUpperCase())
    if (privileges.includes('ALL PRIVILEGES') || privileges.includes('ALL') || privileges.includes('SELECT')) return true
  }
  return false
}

/** The user part of CURRENT_USER() (`sync@%` → `'sync'@'%'`), for GRANT statements in fixes. */
function grantee(user: string): string {
  const at = user.lastIndexOf('@')
  return at < 0 ? `'${user}'` : `'${user.slice(0, at)}'@'${user.slice(at + 1)}'`
}

/** Read the settings and grants; throws what the pool throws (the caller classifies it). */
export async function checkServer(pool: Pool, database: string): Promise<ServerReport> {
  const [settings] = await pool.query<SettingsRow[]>(
    `SELECT VERSION() AS version, @@log_bin AS log_bin, @@binlog_format AS binlog_format, @@binlog_row_image AS binlog_row_image,
            @@server_id AS server_id, CURRENT_USER() AS user, DATABASE() AS db,
            @@character_set_server AS charset_server, @@collation_server AS collation_server, @@max_allowed_packet AS max_allowed_packet`,
  )
  const row = settings[0]!
  const [grantRows] = await pool.query<RowDataPacket[]>('SHOW GRANTS')
  const grantLines = grantRows.map((g) => String(Object.values(g)[0]))
  const grants = replicationGrants(grantLines)
  const select = database ? selectGrant(grantLines, database) : true
  let databaseCharset: { charset: string; collation: string } | undefined
  if (database) {
    const [schemata] = await pool.query<RowDataPacket[]>(
      'SELECT DEFAULT_CHARACTER_SET_NAME AS charset, DEFAULT_COLLATION_NAME AS collation FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?',
      [database],
    )
    if (schemata[0]) databaseCharset = { charset: String(schemata[0].charset), collation: String(schemata[0].collation) }
  }

  const flavor = /mariadb/i.test(row.version) ? 'MariaDB' : 'MySQL'
  const version = /^\d+\.\d+\.\d+/.exec(row.version)?.[0] ?? row.version
  const logBin = Number(row.log_bin) === 1 || String(row.log_bin).toUpperCase() === 'ON'
  const format = String(row.binlog_format ?? '').toUpperCase()
  const image = String(row.binlog_row_image ?? '').toUpperCase()
  const serverId = Number(row.server_id)
  const problems: string[] = []
  if (!logBin) problems.push(`log_bin is OFF: add log_bin = mysql-bin to the [mysqld] section of the server's option file and restart ${flavor}`)
  if (format !== 'ROW') problems.push(`binlog_format is ${format || 'unset'}: run SET GLOBAL binlog_format = 'ROW' and add binlog_format = ROW to the option file`)
  if (image !== 'FULL') problems.push(`binlog_row_image is ${image || 'unset'}: run SET GLOBAL binlog_row_image = 'FULL' and add it to the option file`)
  if (!(serverId > 0)) problems.push('server_id is 0: set server_id to a unique non-zero number in the option file')
  const missing = [...(grants.slave ? [] : ['REPLICATION SLAVE']), ...(grants.client ? [] : ['REPLICATION CLIENT'])]
  if (missing.length > 0) problems.push(`user ${row.user} lacks ${missing.join(' and ')}: run GRANT ${missing.join(', ')} ON *.* TO ${grantee(row.user)}`)
  if (!select) problems.push(`user ${row.user} lacks SELECT on database ${database} (the snapshot and the table's columns need it): run GRANT SELECT ON \`${database.replace(/`/g, '``')}\`.* TO ${grantee(row.user)}`)

  const details: Record<string, string | number | boolean> = {
    flavor,
    user: row.user,
    log_bin: logBin,
    binlog_format: format,
    binlog_row_image: image,
    server_id: serverId,
    replication_slave: grants.slave,
    replication_client: grants.client,
    select,
    character_set_server: row.charset_server,
    collation_server: row.collation_server,
    max_allowed_packet: Number(row.max_allowed_packet),
  }
  if (row.db) details.database = row.db
  if (databaseCharset) {
    details.character_set_database = databaseCharset.charset
    details.collation_database = databaseCharset.collation
  }
  const charsetProblems: string[] = []
  if (row.charset_server !== 'utf8mb4') {
    charsetProblems.push(`the server's character set is ${row.charset_server}, which cannot hold every character (emoji need utf8mb4): set character-set-server = utf8mb4 in the [mysqld] section of the option file and restart`)
  }
  if (databaseCharset && databaseCharset.charset !== 'utf8mb4') {
    charsetProblems.push(
      `database '${database}' defaults to ${databaseCharset.charset}, so tables created in it without a character set cannot hold every character: run ALTER DATABASE \`${database.replace(/`/g, '``')}\` CHARACTER SET utf8mb4 (tables syncline creates are utf8mb4 either way; existing tables need ALTER TABLE … CONVERT TO CHARACTER SET utf8mb4)`,
    )
  }
  if (charsetProblems.length > 0) details.charset_warning = `${charsetProblems.join('; ')}.`
  return { flavor, version, cdc: problems.length === 0 ? { ready: true } : { ready: false, reason: `${problems.join('; ')}.` }, details }
}
