/**
 * Range checksums over a connector's own key-ordered scan, where SQL cannot
 * compute the canonical text exactly: every SQLite range (SQLite keeps
 * values loosely typed), and MariaDB's fallback for the calls its SQL
 * cannot spell (FLOAT, DOUBLE, JSON…; src/connectors/mysql/checksum.ts),
 * plus MariaDB's range cuts (`splitByScan`, cheaper there than a window
 * function). Rows are decoded as a scan decodes them and hashed with the
 * very function the engine defines (src/values/row-checksum.ts). For
 * SQLite the scan is in-process, so this costs about a scan; only counts
 * and sums leave here.
 */
import { SynclineError } from '../../errors.js'
import { compareKeys } from '../../values/compare.js'
import type { KeyValues, Row } from '../../values/canonical.js'
import { ChecksumSum, rowChecksumHex } from '../../values/row-checksum.js'
import { keyOf, type KeyHash, type RangeChecksum, type RangeChecksumOptions, type RangeOptions, type RangeSplitOptions, type ScanOptions } from '../connector.js'

/** Rows per scan batch while checksumming: small enough that a batch dies young (docs/two-way.md "Memory"). */
const BATCH_ROWS = 2000

type Scan = (entity: string, opts: ScanOptions) => AsyncIterable<Row[]>

/** The rows of a range `(after, through]`, batch by batch, stopping after `through`. */
async function* rangeRows(scan: Scan, entity: string, opts: RangeOptions, fields: string[]): AsyncGenerator<Row[]> {
  const { range, keys, keyTypes } = opts
  const scanOptions: ScanOptions = { fields, keys, batchSize: BATCH_ROWS }
  if (opts.filters) scanOptions.filters = opts.filters
  if (range.after) scanOptions.after = range.after
  if (opts.signal) scanOptions.signal = opts.signal
  for await (const batch of scan(entity, scanOptions)) {
    const through = range.through
    if (through === undefined || compareKeys(keyTypes, keyOf(batch[batch.length - 1]!, keys), through) <= 0) {
      yield batch
      continue
    }
    // Breaking out of the loop closes the scan's cursor.
    yield batch.filter((row) => compareKeys(keyTypes, keyOf(row, keys), through) <= 0)
    return
  }
}

/** Only md5 is computed here (src/values/row-checksum.ts) and in MariaDB's SQL (src/connectors/mysql/checksum.ts). */
export function requireMd5(opts: RangeChecksumOptions): void {
  if (opts.hash !== undefined && opts.hash !== 'md5') throw new SynclineError('INTERNAL', 'internal', `Row hash '${opts.hash}' is not computed over scans; only md5 is.`)
}

/** Count and checksum a range by scanning it. */
export async function checksumByScan(scan: Scan, entity: string, opts: RangeChecksumOptions): Promise<RangeChecksum> {
  requireMd5(opts)
  const sum = new ChecksumSum()
  const names = [...new Set([...opts.keys, ...opts.fields.map((f) => f.name)])]
  for await (const batch of rangeRows(scan, entity, opts, names)) {
    for (const row of batch) sum.addRow(row, opts.fields)
  }
  return { count: sum.count, sum: sum.sum }
}

/** Each row's key and hash in a range, by scanning it. */
export async function hashesByScan(scan: Scan, entity: string, opts: RangeChecksumOptions): Promise<KeyHash[]> {
  requireMd5(opts)
  const out: KeyHash[] = []
  const names = [...new Set([...opts.keys, ...opts.fields.map((f) => f.name)])]
  const limit = opts.limit ?? Infinity
  for await (const batch of rangeRows(scan, entity, opts, names)) {
    for (const row of batch) {
      if (out.length >= limit) return out
      out.push({ key: keyOf(row, opts.keys), hash: rowChecksumHex(row, opts.fields) })
    }
  }
  return out
}

/** Every `rows / parts`-th key of a range, by scanning its keys. */
export async function splitByScan(scan: Scan, entity: string, opts: RangeSplitOptions): Promise<KeyValues[]> {
  const step = Math.max(1, Math.ceil(opts.rows / opts.parts))
  const out: KeyValues[] = []
  let seen = 0
  for await (const batch of rangeRows(scan, entity, opts, opts.keys)) {
    for (const row of batch) {
      if (++seen % step === 0) out.push(keyOf(row, opts.keys))
      if (out.length >= opts.parts - 1) return out
    }
  }
  return out
}
