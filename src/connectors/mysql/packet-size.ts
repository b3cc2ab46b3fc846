/**
 * How many bytes rows take in a prepared statement's execute packet, which
 * the server refuses beyond its max_allowed_packet: it answers "Got a packet
 * bigger than 'max_allowed_packet' bytes" and drops the connection, often
 * before the client has read the answer, so the write looks like a lost
 * connection. Multi-row statements are split to stay under it
 * (write-paths.ts), and a record that cannot fit even alone is a rejected
 * record (record-check.ts).
 *
 * Each parameter takes its type (2 bytes), a length prefix (up to 9) and
 * its value: text in UTF-8, bytes as they are, numbers in binary (8 bytes)
 * or, for integers beyond 2^53 and decimals, as text.
 */
import type { Value } from '../../values/canonical.js'

/** A parameter's type and length prefix, at most. */
const PER_VALUE = 11

/** A value that is neither text nor bytes, at most: 20 digits and a sign as text. */
const SCALAR = 21

/** The packet's own header and null bitmap, with room to spare. */
export const STATEMENT_OVERHEAD = 1024

/** The largest max_allowed_packet MySQL and MariaDB accept (1 GB). */
export const LARGEST_PACKET = 1024 * 1024 * 1024

/**
 * An upper bound of a value's size on the wire, cheap to compute (text is
 * counted as 3 bytes per UTF-16 unit, the most UTF-8 needs).
 */
export function wireBound(value: Value | undefined): number {
  if (typeof value === 'string') return value.length * 3 + PER_VALUE
  if (value instanceof Uint8Array) return value.byteLength + PER_VALUE
  return value === null || value === undefined ? PER_VALUE : SCALAR + PER_VALUE
}

/** A value's own size: text in UTF-8, bytes as they are, other values as at most 21 characters. */
export function valueBytes(value: Value | undefined): number {
  if (typeof value === 'string') return Buffer.byteLength(value, 'utf8')
  if (value instanceof Uint8Array) return value.byteLength
  return value === null || value === undefined ? 0 : SCALAR
}

/** A value's size on the wire, within a few bytes over. */
export function wireBytes(value: Value | undefined): number {
  return valueBytes(value) + PER_VALUE
}

/**
 * The bytes one statement's values may take under a max_allowed_packet:
 * the packet less its header, and a tenth to spare for what the bounds do
 * not see.
 */
export function statementBudget(maxAllowedPacket: number): number {
  return Math.max(0, Math.floor(maxAllowedPacket * 0.9) - STATEMENT_OVERHEAD)
}

/**
 * `16,777,216`: byte counts in messages.
 * @example formatBytes(1048576) // '1,048,576'
 */
export function formatBytes(bytes: number): string {
  return bytes.toLocaleString('en-US')
}
