/**
 * PostgreSQL's binary COPY format, as far as the bulk path needs it: the
 * name connectors use for it, and counting the rows of a stream as its bytes
 * pass (for progress and the copied count), without decoding a value.
 *
 * The layout: an 11-byte signature, a 32-bit flags word, a 32-bit header
 * extension length and that many bytes; then per row a 16-bit field count
 * (-1 ends the data) and per field a 32-bit length (-1 for NULL) followed by
 * that many bytes. Integers are big-endian.
 */

/** The name connectors use for this format in `bulkFormats`: only PostgreSQL reads and writes it. */
export const COPY_BINARY_FORMAT = 'postgres-copy-binary'

/** What the counter reads next. */
type Expecting = 'extension length' | 'row' | 'field length' | 'nothing'

/** Counts the rows of a binary COPY stream, fed chunk by chunk in order (chunks split anywhere). */
export class CopyBinaryRowCounter {
  rows = 0
  #expecting: Expecting = 'extension length'
  /** Bytes to pass before the next integer: the signature and flags first. */
  #skip = 15
  #fieldsLeft = 0
  /** An integer split across chunks, gathered here. */
  #partial = Buffer.alloc(4)
  #partialLength = 0

  add(chunk: Buffer): void {
    let at = 0
    while (at < chunk.length) {
      if (this.#skip > 0) {
        const passed = Math.min(this.#skip, chunk.length - at)
        at += passed
        this.#skip -= passed
        continue
      }
      if (this.#expecting === 'nothing') return
      const width = this.#expecting === 'row' ? 2 : 4
      let value: number
      if (this.#partialLength === 0 && chunk.length - at >= width) {
        value = width === 2 ? chunk.readInt16BE(at) : chunk.readInt32BE(at)
        at += width
      } else {
        const taken = Math.min(width - this.#partialLength, chunk.length - at)
        chunk.copy(this.#partial, this.#partialLength, at, at + taken)
        this.#partialLength += taken
        at += taken
        if (this.#partialLength < width) return
        value = width === 2 ? this.#partial.readInt16BE(0) : this.#partial.readInt32BE(0)
        this.#partialLength = 0
      }
      this.#take(value)
    }
  }

  #take(value: number): void {
    switch (this.#expecting) {
      case 'extension length':
        this.#skip = value
        this.#expecting = 'row'
        return
      case 'row':
        if (value < 0) {
          this.#expecting = 'nothing'
          return
        }
        this.rows++
        this.#fieldsLeft = value
        if (value > 0) this.#expecting = 'field length'
        return
      case 'field length':
        if (value > 0) this.#skip = value
        if (--this.#fieldsLeft === 0) this.#expecting = 'row'
        return
      case 'nothing':
        return
    }
  }
}
