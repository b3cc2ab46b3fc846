/**
 * One stored SQLite value straight to its COPY text, per field, for the bulk
 * export. Each encoder writes exactly what decoding the value into its
 * canonical value ({@link decodeValue}), checking the column's declared
 * limits and encoding it as COPY text would: the common stored forms (an
 * INTEGER in an integer column, TEXT in a text column, the canonical or
 * `toISOString()` timestamp text, a REAL decimal of the column's scale)
 * take a short path that skips the canonical value, everything else takes
 * that general path. Numbers are printed without `String(number)` (see
 * number-text.ts: it is what kept the copy's memory growing).
 *
 * Why: a first full copy runs this once per cell, and the general path's
 * type dispatch, intermediate values and escaping regular expression on
 * values that cannot need escaping were most of the export's time.
 */
import { RecordError } from '../../errors.js'
import { constraintCheck } from '../../mapping/field-constraints.js'
import type { FieldInfo, Value } from '../../values/canonical.js'
import { encodeCopyText } from '../../values/copy-text.js'
import { integerText, shortDecimalText } from '../../values/number-text.js'
import { parseTimestamp } from '../../values/temporal.js'
import { decodeError, decodeValue } from './codec.js'

/** A stored value (better-sqlite3, raw, plain numbers) to its COPY text; throws a `RecordError` for a value the field cannot hold. */
export type CellEncoder = (cell: unknown) => string

/** What COPY text must escape. */
const COPY_SPECIAL = /[\\\t\n\r]/

/** The encoder of one exported field of `entity`. */
export function cellEncoder(entity: string, field: FieldInfo): CellEncoder {
  const check = limitCheck(field)
  const general = generalEncoder(entity, field, check)
  switch (field.type) {
    case 'integer':
      return (cell) => {
        if (typeof cell !== 'number' || !Number.isSafeInteger(cell)) return general(cell)
        check?.(cell)
        return integerText(cell)
      }
    case 'text':
    case 'enum':
      return (cell) => {
        if (typeof cell !== 'string' || COPY_SPECIAL.test(cell)) return general(cell)
        check?.(cell)
        return cell
      }
    case 'decimal': {
      // The column's scale (DECIMAL(12,2)) is what its REAL values usually have; 6 covers most others.
      const scale = Math.min(field.scale ?? 6, 6)
      return (cell) => {
        const text = typeof cell === 'number' ? shortDecimalText(cell, scale) : undefined
        if (text === undefined) return general(cell)
        check?.(text)
        return text
      }
    }
    case 'timestamp':
      return (cell) => {
        if (typeof cell !== 'string') return general(cell)
        // The canonical text needs no escaping; parseTimestamp's fast path is the same as decodeValue's.
        let value: string
        try {
          value = parseTimestamp(cell)
        } catch {
          return general(cell)
        }
        check?.(value)
        return value
      }
    default:
      return general
  }
}

/** Decode into the canonical value, check the declared limits, encode: what every value can take. */
function generalEncoder(entity: string, field: FieldInfo, check: ((value: Value) => void) | undefined): CellEncoder {
  return (cell) => {
    const value = decodeCell(entity, field, cell)
    check?.(value)
    return encodeCopyText(value, field)
  }
}

/**
 * The canonical value of a stored value read as a plain number or text.
 * Cells are read as plain numbers, which are cheaper than bigints; an
 * integer past 2^53 then stops the export, and the engine copies row by
 * row, where integers are read exactly.
 */
export function decodeCell(entity: string, field: FieldInfo, cell: unknown): Value {
  if ((field.type === 'integer' || field.type === 'decimal') && typeof cell === 'number' && Number.isInteger(cell) && !Number.isSafeInteger(cell)) {
    throw new RecordError('VALUE_REJECTED', 'data', `SQLite table '${entity}', field '${field.name}': ${cell} is beyond 2^53 and needs exact reading`)
  }
  try {
    return decodeValue(cell, field.type)
  } catch (error) {
    throw decodeError(entity, field, cell, error)
  }
}

/**
 * The limits a SQLite column declares but does not enforce, so that the
 * destination does not cut or round a value past them without a word
 * (nullability is left to the destination), with a quick pass for plain
 * decimals.
 */
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
