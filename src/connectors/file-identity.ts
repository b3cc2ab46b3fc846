/**
 * Which file a path names, however it is spelled: `./shop.db`, an absolute
 * path, `data/../shop.db`, a symbolic link or a hard link to it all give the
 * same identity. Used by the connectors whose entities live in local files
 * (SQLite, CSV and NDJSON) for `Connector.physicalIdentity`.
 */
import { realpathSync, statSync } from 'node:fs'

/** A file as the operating system knows it. */
export interface FileIdentity {
  /** `device:inode`: one file, whatever path or link reaches it (on this machine). */
  key: string
  /** The path with links resolved, for messages. */
  realPath: string
}

/**
 * The identity of the file at `path`, or undefined when there is none (yet).
 * Device and inode rather than the resolved path, so that hard links and
 * bind mounts are recognised too.
 * @example fileIdentity('./shop.db') // { key: '2049:1311', realPath: '/plans/shop.db' }
 */
export function fileIdentity(path: string): FileIdentity | undefined {
  try {
    const stats = statSync(path, { bigint: true })
    return { key: `${stats.dev}:${stats.ino}`, realPath: realpathSync(path) }
  } catch {
    return undefined
  }
}
