/**
 * Waking a change feed when the SQLite file may have new changes, without
 * busy polling. A commit by any process writes the file or its `-wal`, which
 * `fs.watch` on the file's folder reports within a millisecond or so (the
 * folder, not the files: SQLite deletes and recreates `-wal`, which would
 * silence a watch on the file itself). Where file events are not delivered
 * (network file systems, some containers), `PRAGMA data_version`, which
 * changes when another connection commits, is checked on an interval as a
 * backstop: one cheap pragma, not a query of the log.
 *
 * A feed arms the waker before it first reads the log, and a sign of a
 * change that comes while nobody waits is kept for the next wait: a commit
 * between a read that found nothing and the wait after it would otherwise
 * sleep until the next commit (the data_version read when watching began
 * already counted it, and the file event had no waiter).
 */
import { watch, type FSWatcher } from 'node:fs'
import { basename, dirname } from 'node:path'
import type Database from 'better-sqlite3'

/** How often the backstop checks `data_version` while a feed waits. */
export const BACKSTOP_INTERVAL_MS = 500

/** Wakes waiters when the database file may have changed. */
export class ChangeWaker {
  private watcher: FSWatcher | undefined
  private timer: NodeJS.Timeout | undefined
  private dataVersion: bigint | undefined
  private waiters: (() => void)[] = []
  /** A sign of a change that came while nobody waited. */
  private pending = false
  private stopped = false
  private readonly names: Set<string>

  constructor(
    private readonly path: string,
    private readonly db: Database.Database,
    private readonly intervalMs = BACKSTOP_INTERVAL_MS,
  ) {
    const base = basename(path)
    this.names = new Set([base, `${base}-wal`])
  }

  /**
   * Resolves at the next sign of a change, when `signal` aborts or on
   * {@link stop}. The first call starts watching.
   */
  wait(signal?: AbortSignal): Promise<void> {
    if (this.stopped || signal?.aborted) return Promise.resolve()
    this.arm()
    if (this.pending) {
      this.pending = false
      return Promise.resolve()
    }
    return new Promise((resolve) => {
      const done = () => {
        signal?.removeEventListener('abort', done)
        resolve()
      }
      signal?.addEventListener('abort', done, { once: true })
      this.waiters.push(done)
    })
  }

  /** Stop watching and release every waiter. */
  stop(): void {
    this.stopped = true
    this.watcher?.close()
    this.watcher = undefined
    clearInterval(this.timer)
    this.timer = undefined
    this.wake()
  }

  /** Start watching (once): every change from now on wakes a wait, also one that begins later. */
  arm(): void {
    if (this.timer || this.stopped) return
    this.dataVersion = this.readDataVersion()
    try {
      this.watcher = watch(dirname(this.path), { persistent: true }, (_event, name) => {
        if (name === null || this.names.has(name.toString())) this.wake()
      })
      // A folder that cannot be watched (removed, no inotify watches left) leaves the backstop.
      this.watcher.on('error', () => {
        this.watcher?.close()
        this.watcher = undefined
      })
    } catch {
      this.watcher = undefined
    }
    this.timer = setInterval(() => {
      const version = this.readDataVersion()
      if (version !== this.dataVersion) {
        this.dataVersion = version
        this.wake()
      }
    }, this.intervalMs)
  }

  private readDataVersion(): bigint | undefined {
    if (!this.db.open) return undefined
    return this.db.pragma('data_version', { simple: true }) as bigint
  }

  private wake(): void {
    const waiters = this.waiters
    this.waiters = []
    this.pending = waiters.length === 0
    for (const resolve of waiters) resolve()
  }
}
