/**
 * The key as users see it (DESIGN §1.3 `recordId`): `42`, or `[1,"a"]` for
 * composite keys. History, change events and webhook deliveries all name a
 * record this way.
 */
import type { KeyValues, Value } from './canonical.js'

/** The record id of a key. @example recordId([1, 'a']) // '[1,"a"]' */
export function recordId(key: KeyValues): string {
  const plain = key.map(jsonSafe)
  return plain.length === 1 ? String(plain[0]) : JSON.stringify(plain)
}

function jsonSafe(value: Value): unknown {
  if (typeof value === 'bigint') return value.toString()
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64')
  return value
}
