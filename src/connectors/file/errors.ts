/**
 * Errors about a file's content, naming the file, the line and the field so
 * the user can open it at the right place; errors of the staging database,
 * reworded to name the file; and the missing entity, naming the closest one.
 */
import { closestName, didYouMean, NotFoundError, SynclineError } from '../../errors.js'
import { sqliteFailure } from '../sqlite/staging-database.js'
import type { FileLocation } from './location.js'
import type { StagedEntities, EntityState } from './staged-entities.js'

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

/**
 * An error of the SQLite code run on a staged table, reworded to name the
 * file instead of the staging table (`t3` means nothing to the user).
 * @example throw stagingError(error, entities, state, 'reading')
 */
export function stagingError(error: unknown, entities: StagedEntities, state: EntityState, doing: string): Error {
  const label = entities.label(state.entity)
  const failure = error instanceof SynclineError ? error : sqliteFailure(error, `${doing} ${label}`)
  failure.message = failure.message.split(`SQLite table '${state.table.name}'`).join(label)
  if (failure.details && failure.details.entity === state.table.name) (failure.details as Record<string, unknown>).entity = state.entity
  return failure
}

/**
 * `ENTITY_NOT_FOUND` for an entity with no file, naming the closest one (or
 * saying the directory is missing or empty) and the fix.
 */
export function entityNotFound(connection: string, entities: StagedEntities, entity: string): NotFoundError {
  const location: FileLocation = entities.location
  const names = entities.names()
  const where = `${location.kind.toUpperCase()} files in ${location.dir}`
  const hint = !entities.directoryExists ? ' The directory does not exist.' : names.length === 0 ? ' It holds no such files yet.' : didYouMean(entity, names)
  return new NotFoundError(
    'ENTITY_NOT_FOUND',
    'config',
    `Connection '${connection}' (${where}) has no entity '${entity}' (no file ${entity}${location.extension}).${hint} ` +
      `Fix the entity name in the plan (\`syncline discover ${connection}\` lists them), or set create: true on a destination.`,
    { details: { connection, entity, suggestion: closestName(entity, names) } },
  )
}
