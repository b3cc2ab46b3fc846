/**
 * What the connector needs to know about the server once: MySQL or
 * MariaDB, its version, the binary NO PAD collation that orders text by
 * UTF-8 bytes, whether it has MariaDB's UUID type, and max_allowed_packet.
 */
import type { Pool, RowDataPacket } from 'mysql2/promise'

/** Facts about the server, read once per connector. */
export interface ServerInfo {
  flavor: 'MariaDB' | 'MySQL'
  /** `10.11.19`, `8.0.36`. */
  version: string
  /**
   * A utf8mb4 collation that compares by code point (= UTF-8 byte order)
   * and without PAD SPACE, so `'a'` and `'a '` are different keys:
   * `utf8mb4_nopad_bin` (MariaDB 10.2+), `utf8mb4_0900_bin` (MySQL 8).
   * Undefined on older servers, where text is ordered as BINARY instead.
   */
  binaryCollation: string | undefined
  /** MariaDB 10.7+ has a native UUID type. */
  uuidType: boolean
  /** Largest packet (statement) the server accepts, in bytes. */
  maxAllowedPacket: number
}

interface InfoRow extends RowDataPacket {
  version: string
  packet: number | string
}

/** `10.11.19-MariaDB-0+deb12u1` → [10, 11, 19]. */
export function versionParts(version: string): number[] {
  return (/^(\d+)\.(\d+)\.(\d+)/.exec(version)?.slice(1) ?? ['0', '0', '0']).map(Number)
}

/** Whether `version` is at least `major.minor`. */
export function versionAtLeast(version: string, major: number, minor: number): boolean {
  const [a = 0, b = 0] = versionParts(version)
  return a > major || (a === major && b >= minor)
}

/** Read the server facts (two short queries). */
export async function readServerInfo(pool: Pool): Promise<ServerInfo> {
  const [rows] = await pool.query<InfoRow[]>('SELECT VERSION() AS version, @@max_allowed_packet AS packet')
  const row = rows[0]
  const full = String(row?.version ?? '')
  const flavor = /mariadb/i.test(full) ? 'MariaDB' : 'MySQL'
  const version = /^\d+\.\d+\.\d+/.exec(full)?.[0] ?? full
  const [collations] = await pool.query<RowDataPacket[]>(
    `SELECT COLLATION_NAME AS name FROM information_schema.COLLATIONS WHERE COLLATION_NAME IN ('utf8mb4_nopad_bin', 'utf8mb4_0900_bin')`,
  )
  const names = new Set(collations.map((c) => String(c.name)))
  return {
    flavor,
    version,
    binaryCollation: names.has('utf8mb4_nopad_bin') ? 'utf8mb4_nopad_bin' : names.has('utf8mb4_0900_bin') ? 'utf8mb4_0900_bin' : undefined,
    uuidType: flavor === 'MariaDB' && versionAtLeast(version, 10, 7),
    maxAllowedPacket: Number(row?.packet ?? 4_194_304),
  }
}

/** Whether a collation compares exactly: binary, by code point, and NO PAD. */
export function isExactCollation(collation: string | null | undefined): boolean {
  if (!collation) return true
  return collation === 'binary' || /_nopad_bin$/.test(collation) || /_0900_bin$/.test(collation)
}
