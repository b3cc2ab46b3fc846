/**
 * Replacing a file atomically: write `DIR/.NAME.tmp-<random>`, flush it to
 * disk, then rename it over `DIR/NAME`. Readers see the old file or the new
 * one, never half of one; a failure leaves the old file as it was and
 * removes the temporary one.
 */
import { randomBytes } from 'node:crypto'
import { chmod, mkdir, open, rename, rm, stat } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

/** Text is handed to the file in pieces of about this many characters. */
const FLUSH_AT = 1 << 20

/** Appends text to the file being written. */
export type Append = (text: string) => Promise<void>

/**
 * Write `path` through `produce`, atomically. The new file keeps the old
 * one's permissions.
 * @example await writeAtomically('/data/customers.csv', async (append) => { await append('id\n1\n') })
 */
export async function writeAtomically(path: string, produce: (append: Append) => Promise<void>): Promise<void> {
  const dir = dirname(path)
  await mkdir(dir, { recursive: true })
  const temporary = join(dir, `.${basename(path)}.tmp-${randomBytes(6).toString('hex')}`)
  const handle = await open(temporary, 'wx')
  let handleOpen = true
  let pieces: string[] = []
  let size = 0
  const flush = async () => {
    if (size === 0) return
    const text = pieces.join('')
    pieces = []
    size = 0
    await handle.write(text)
  }
  try {
    await produce(async (text) => {
      pieces.push(text)
      size += text.length
      if (size >= FLUSH_AT) await flush()
    })
    await flush()
    await handle.sync()
    handleOpen = false
    await handle.close()
    const old = await stat(path).catch(() => undefined)
    if (old) await chmod(temporary, old.mode & 0o7777)
    await rename(temporary, path)
  } catch (error) {
    if (handleOpen) await handle.close().catch(() => undefined)
    await rm(temporary, { force: true })
    throw error
  }
  // Make the rename itself durable; not every file system lets a directory be synced.
  const directory = await open(dir, 'r').catch(() => undefined)
  await directory?.sync().catch(() => undefined)
  await directory?.close().catch(() => undefined)
}
