/**
 * Bulk export of a SQLite table as COPY text (`postgres-copy-text`), for a
 * first full copy into PostgreSQL without the row-by-row engine.
 *
 * Each stored value is decoded into its canonical value (so odd timestamp
 * formats, REAL decimals and 0/1 booleans mean what the row path says they
 * mean) and written as COPY text. SQLite does not enforce declared limits, so
 * every value is checked against them here: a value past its column's
 * VARCHAR(n) or DECIMAL(p,s) would otherwise be cut or rounded by the
 * destination without a word. Such a value ends the export with a data
 * error, and the engine copies row by row, reporting that record.
 */
import { Readable } from 'node:stream'
import type Database from 'better-sqlite3'
import { RecordError, throwIfAborted } from '../../errors.js'
import { constraintCheck } from '../../mapping/field-constraints.js'
import type { EntityInfo, FieldInfo, Value } from '../../values/canonical.js'
import { highestTracker, type HighestTracker } from '../highest-tracker.js'
import { COPY_TEXT_FORMAT, encodeCopyText } from '../../values/copy-text.js'
import type { BulkExport, BulkExportOptions } from '../connector.js'
import { decodeError, decodeValue } from './codec.js'
import { quoteIdent } from './dialect.js'
import { requireFields } from './source.js'

/** Rows encoded per chunk of the stream. */
const ROWS_PER_CHUNK = 2000

/** The formats this connector can export. */
export const SQLITE_BULK_FORMATS = [COPY_TEXT_FORMAT] as const

/**
 * Stream the fields of a table as COPY text. With `highest`, the greatest
 * `(cursor, key)` is tracked over the decoded rows as they stream (one
 * statement, one snapshot, canonical order whatever the stored formats).
 */
export function bulkExport(db: Database.Database, entity: EntityInfo, opts: BulkExportOptions): BulkExport {
  throwIfAborted(opts.signal)
  const fields = requireFields(entity, opts.fields)
  // Cursor and key fields the export does not carry are read alongside, for `highest`.
  const tracked = opts.highest ? [opts.highest.cursor, ...opts.highest.keys] : []
  const extra = requireFields(entity, tracked.filter((n, i) => !opts.fields.includes(n) && tracked.indexOf(n) === i))
  const selected = [...fields, ...extra]
  // The limits a SQLite column declares but does not enforce (nullability is left to the destination).
  const checks = fields.map(limitCheck)
  // Plain numbers are much cheaper to read than bigints. An integer past 2^53
  // then shows up as an unsafe number: encodeRow stops the export, and the
  // engine copies row by row, where integers are read exactly.
  const statement = db.prepare(`SELECT ${selected.map((f) => quoteIdent(f.name)).join(', ')} FROM ${quoteIdent(entity.name)}`).raw(true).safeIntegers(false)
  const rows = statement.iterate() as IterableIterator<unknown[]>
  const highest = opts.highest ? highestTracker(selected, opts.highest.cursor, opts.highest.keys) : undefined
  let ended = false

  function* chunks(): Generator<Buffer> {
    // One string per chunk, appended to (cheaper than an array of lines joined).
    let text = ''
    let lines = 0
    for (const cells of rows) {
      text += encodeRow(entity.name, selected, fields.length, checks, cells, highest)
      if (++lines === ROWS_PER_CHUNK) {
        throwIfAborted(opts.signal)
        yield Buffer.from(text)
        text = ''
        lines = 0
      }
    }
    if (lines > 0) yield Buffer.from(text)
    ended = true
  }

  const stream = Readable.from(chunks(), { objectMode: false })
  return {
    format: COPY_TEXT_FORMAT,
    fields,
    stream,
    get highest() {
      return highest && ended ? highest.row() : undefined
    },
    close: async () => {
      // Ends the statement's iteration so the connection is free for writes.
      rows.return?.()
      stream.destroy()
    },
  }
}

/** The declared limits of a field (not its nullability), with a quick pass for plain decimals. */
function limitCheck(field: FieldInfo): ((value: Value) => void) | undefined {
  const full = constraintCheck({ ...field, nullable: true })
  if (!full || field.type !== 'decimal') return full
  const scale = field.scale ?? 0
  const integerLimit = field.precision === undefined ? Infinity : field.precision - scale
  return (value) => {
    if (typeof value === 'string' && !/[eE]/.test(value)) {
      const dot = value.indexOf('.')
      const integerEnd = dot < 0 ? value.length : dot
      let end = value.length
      if (dot >= 0) while (end > dot + 1 && value.charCodeAt(end - 1) === 48) end--
      const fraction = dot < 0 ? 0 : end - dot - 1
      let start = value.charCodeAt(0) === 45 ? 1 : 0
      while (start < integerEnd && value.charCodeAt(start) === 48) start++
      if (fraction <= scale && integerEnd - start <= integerLimit) return
    }
    full(value) // decides the rest, and words the error
  }
}

function encodeRow(
  entity: string,
  selected: readonly FieldInfo[],
  emitted: number,
  checks: readonly (((value: Value) => void) | undefined)[],
  cells: readonly unknown[],
  highest: HighestTracker | undefined,
): string {
  let line = ''
  // The decoded values are kept only for `highest`.
  const values: Value[] | undefined = highest ? new Array(selected.length) : undefined
  for (let i = 0; i < selected.length; i++) {
    const field = selected[i]!
    const cell = cells[i]
    if (typeof cell === 'number' && !Number.isSafeInteger(cell) && Number.isInteger(cell) && (field.type === 'integer' || field.type === 'decimal')) {
      throw new RecordError('VALUE_REJECTED', 'data', `SQLite table '${entity}', field '${field.name}': ${cell} is beyond 2^53 and needs exact reading`)
    }
    let value: Value
    try {
      value = decodeValue(cell, field.type)
    } catch (error) {
      throw decodeError(entity, field, cell, error)
    }
    if (values) values[i] = value
    if (i >= emitted) continue
    checks[i]?.(value)
    line += (i === 0 ? '' : '\t') + encodeCopyText(value, field)
  }
  if (values) highest!.note(values)
  return `${line}\n`
}
