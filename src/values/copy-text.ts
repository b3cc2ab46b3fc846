/**
 * PostgreSQL's COPY text format for canonical values: the common bulk format
 * any connector may write (`postgres-copy-text`) and PostgreSQL reads with
 * COPY FROM. Tab-separated, `\N` for NULL, backslash escapes, `\x` hex bytea,
 * `t`/`f` booleans; every other value is its canonical text, which
 * PostgreSQL reads back exactly (sessions run in UTC).
 */
import type { FieldInfo, Value } from './canonical.js'
import { formatPgArray } from './pg-array.js'

/** The name connectors use for this format in `bulkFormats`. */
export const COPY_TEXT_FORMAT = 'postgres-copy-text'

const COPY_SPECIAL = /[\\\t\n\r]/

function escapeCopy(text: string): string {
  if (!COPY_SPECIAL.test(text)) return text
  return text.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'))
}

/** One value as a COPY text field. */
export function encodeCopyText(value: Value | undefined, field: Pick<FieldInfo, 'type' | 'elementType'>): string {
  if (value === null || value === undefined) return '\\N'
  // Arrays are canonical JSON text; COPY wants PostgreSQL's array text.
  if (field.type === 'array' && typeof value === 'string') return escapeCopy(formatPgArray(value, field.elementType ?? 'text'))
  if (value instanceof Uint8Array) {
    if (field.type === 'bytes') return `\\\\x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}`
    return escapeCopy(Buffer.from(value).toString('utf8'))
  }
  if (typeof value === 'string') return escapeCopy(value)
  if (typeof value === 'boolean') return value ? 't' : 'f'
  return String(value)
}
