/**
 * Reading a file as UTF-8 text, refusing invalid byte sequences instead of
 * turning them into U+FFFD (which would change the value silently), and
 * finding where such a sequence is so the error can name the line.
 */
import { createReadStream } from 'node:fs'
import { open } from 'node:fs/promises'
import { isUtf8 } from 'node:buffer'
import { throwIfAborted } from '../../errors.js'

/** Thrown by {@link decodedChunks} on the first invalid UTF-8 sequence. */
export class InvalidUtf8Error extends Error {}

/**
 * The file's text in chunks (a leading byte order mark dropped). Throws
 * {@link InvalidUtf8Error} at the first invalid sequence.
 */
export async function* decodedChunks(path: string, signal?: AbortSignal): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8', { fatal: true })
  const stream = createReadStream(path, { highWaterMark: 1 << 20 })
  try {
    for await (const chunk of stream) {
      throwIfAborted(signal)
      let text: string
      try {
        text = decoder.decode(chunk as Buffer, { stream: true })
      } catch {
        throw new InvalidUtf8Error('invalid UTF-8')
      }
      if (text !== '') yield text
    }
    let rest: string
    try {
      rest = decoder.decode()
    } catch {
      throw new InvalidUtf8Error('invalid UTF-8 at the end of the file')
    }
    if (rest !== '') yield rest
  } finally {
    stream.destroy()
  }
}

/** Where the first invalid UTF-8 sequence of a file is. */
export interface InvalidUtf8Location {
  /** 1-based physical line (lines end at `\n`). */
  line: number
  /** The line's bytes, without its `\n`. */
  bytes: Buffer
  /** Byte offset of the bad sequence within the line. */
  offset: number
}

/** Find the first invalid UTF-8 sequence in a file (undefined if there is none). */
export async function findInvalidUtf8(path: string): Promise<InvalidUtf8Location | undefined> {
  const handle = await open(path, 'r')
  try {
    let line = 1
    let pending = Buffer.alloc(0)
    const chunk = Buffer.alloc(1 << 20)
    for (;;) {
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null)
      const data = bytesRead === 0 ? pending : Buffer.concat([pending, chunk.subarray(0, bytesRead)])
      let start = 0
      for (;;) {
        const end = data.indexOf(0x0a, start)
        if (end < 0 && bytesRead > 0) break
        const lineBytes = data.subarray(start, end < 0 ? data.length : end)
        if (!isUtf8(lineBytes)) return { line, bytes: Buffer.from(lineBytes), offset: invalidOffset(lineBytes) }
        if (end < 0) return undefined
        line++
        start = end + 1
      }
      pending = Buffer.from(data.subarray(start))
    }
  } finally {
    await handle.close()
  }
}

/** Byte offset of the first invalid sequence (a plain UTF-8 validator; only run on a line known to be bad). */
function invalidOffset(bytes: Uint8Array): number {
  let i = 0
  while (i < bytes.length) {
    const b = bytes[i]!
    const length = b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0
    if (length === 0 || i + length > bytes.length) return i
    for (let k = 1; k < length; k++) if ((bytes[i + k]! & 0xc0) !== 0x80) return i
    const second = bytes[i + 1] ?? 0
    // Overlong forms, surrogates and code points beyond U+10FFFF.
    if ((b === 0xe0 && second < 0xa0) || (b === 0xed && second > 0x9f) || (b === 0xf0 && second < 0x90) || (b === 0xf4 && second > 0x8f)) return i
    i += length
  }
  return bytes.length
}

/** `bytes` as hex pairs for a message: `ff fe`. */
export function hexBytes(bytes: Uint8Array, from: number, count = 4): string {
  return Buffer.from(bytes.subarray(from, from + count)).toString('hex').replace(/(..)(?!$)/g, '$1 ')
}
