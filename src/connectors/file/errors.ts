/**
 * Errors about a file's content, naming the file, the line and the field so
 * the user can open it at the right place.
 */
import { SynclineError } from '../../errors.js'

/** Where in a file a problem is. */
export interface FilePosition {
  path: string
  /** 1-based line the record starts on. */
  line?: number
  field?: string
}

/** `/data/customers.csv line 12, field 'email'` */
export function describePosition(at: FilePosition): string {
  return `${at.path}${at.line === undefined ? '' : ` line ${at.line}`}${at.field === undefined ? '' : `, field '${at.field}'`}`
}

/**
 * A data error in a file (a value that does not parse, a ragged row, bytes
 * that are not UTF-8): `VALUE_REJECTED`, failure `data`.
 * @example fileDataError({ path, line: 3, field: 'id' }, '"x" is not an integer', 'Fix the value.')
 */
export function fileDataError(at: FilePosition, problem: string, fix: string, cause?: unknown): SynclineError {
  return new SynclineError('VALUE_REJECTED', 'data', `${describePosition(at)}: ${problem}. ${fix}`, {
    cause,
    details: { path: at.path, line: at.line, field: at.field },
  })
}
