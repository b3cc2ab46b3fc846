/**
 * Where a file connection's entities live: `csv:DIR` / `ndjson:DIR` URLs
 * (relative to the plan file), their options, and the file names of an
 * entity. Kept free of the CSV libraries so the plan validator can use it.
 */
import { isAbsolute, join, resolve } from 'node:path'
import { SynclineError } from '../../errors.js'

/** The file formats, by URL scheme. */
export type FileFormatKind = 'csv' | 'ndjson'

/** A parsed `csv:` or `ndjson:` URL. */
export interface FileLocation {
  kind: FileFormatKind
  /** Absolute directory holding one file per entity. */
  dir: string
  /** CSV field delimiter (one character); `,` unless `?delimiter=` says otherwise. */
  delimiter: string
  /** Data file extension, with the dot: `.csv` or `.ndjson`. */
  extension: string
}

const EXTENSIONS: Record<FileFormatKind, string> = { csv: '.csv', ndjson: '.ndjson' }

/** Spellings of a tab in `?delimiter=`: YAML and URLs make a literal tab awkward. */
const TAB_SPELLINGS = new Set(['\\t', 'tab', '\t'])

/**
 * The problem with a file URL, in words for the plan validator, or undefined
 * when it is usable.
 * @example fileUrlProblem('csv:') // 'the csv URL names no directory; …'
 */
export function fileUrlProblem(url: string): string | undefined {
  try {
    parseFileUrl(url)
    return undefined
  } catch (error) {
    return (error as Error).message
  }
}

/**
 * Parse `csv:DIR[?delimiter=;]` or `ndjson:DIR`. DIR is relative to
 * `baseDir` (the plan file's directory), else the working directory;
 * `csv:///abs/dir` is `/abs/dir`. The delimiter may be written `\t` or
 * `tab` for a tab, or percent-encoded (`%3B`).
 * @example parseFileUrl('csv:./exports?delimiter=;', '/plans') // { kind: 'csv', dir: '/plans/exports', delimiter: ';', extension: '.csv' }
 */
export function parseFileUrl(url: string, baseDir?: string): FileLocation {
  const match = /^(csv|ndjson):(.*)$/is.exec(url.trim())
  if (!match) throw configError(`'${url}' is not a file URL. Use csv:./dir or ndjson:./dir (a directory, relative to the plan file).`)
  const kind = match[1]!.toLowerCase() as FileFormatKind
  const [rawPath = '', query] = splitOnce(match[2]!, '?')
  const path = rawPath.replace(/^\/\//, '')
  if (path === '') throw configError(`the ${kind} URL names no directory; write ${kind}:./data (a directory relative to the plan file) or ${kind}:/absolute/dir`)

  let delimiter = ','
  for (const part of query === undefined ? [] : query.split('&')) {
    if (part === '') continue
    const [name = '', rawValue = ''] = splitOnce(part, '=')
    let value: string
    try {
      value = decodeURIComponent(rawValue)
    } catch {
      throw configError(`the ${kind} URL option '${part}' is not valid percent-encoding`)
    }
    if (name !== 'delimiter' || kind !== 'csv') {
      const known = kind === 'csv' ? " Known: delimiter (e.g. csv:./data?delimiter=;)." : ' ndjson: URLs take no options.'
      throw configError(`unknown ${kind} URL option '${name}'.${known}`)
    }
    delimiter = TAB_SPELLINGS.has(value) ? '\t' : value
    if ([...delimiter].length !== 1 || /["\r\n]/.test(delimiter)) {
      throw configError(`the CSV delimiter must be one character other than a quote or a line break, not ${JSON.stringify(value)}; e.g. ?delimiter=; or ?delimiter=\\t for a tab`)
    }
  }
  return { kind, dir: isAbsolute(path) ? path : resolve(baseDir ?? process.cwd(), path), delimiter, extension: EXTENSIONS[kind] }
}

/**
 * Why an entity name cannot be a file name here, or undefined when it can.
 * Entity names become file names as they are, so they may not contain a
 * path separator, start with a dot (temporary and hidden files) or be empty.
 */
export function entityNameProblem(entity: string): string | undefined {
  if (entity === '') return 'an entity name may not be empty'
  if (/[/\\\0]/.test(entity)) return `the entity name '${entity}' contains a path separator or NUL; an entity is one file in the connection's directory`
  if (entity.startsWith('.')) return `the entity name '${entity}' starts with a dot, which is kept for hidden and temporary files`
  return undefined
}

/** The data file of an entity: `DIR/customers.csv`. */
export function dataPath(location: FileLocation, entity: string): string {
  return join(location.dir, entity + location.extension)
}

/** The sidecar schema of an entity: `DIR/customers.schema.json`. */
export function sidecarPath(location: FileLocation, entity: string): string {
  return join(location.dir, `${entity}.schema.json`)
}

/** The entity a directory entry holds, or undefined when it is no data file (hidden, temporary, other extension). */
export function entityOfFile(location: FileLocation, fileName: string): string | undefined {
  if (fileName.startsWith('.') || !fileName.endsWith(location.extension)) return undefined
  const entity = fileName.slice(0, -location.extension.length)
  return entity === '' ? undefined : entity
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator)
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)]
}

function configError(message: string): SynclineError {
  return new SynclineError('PLAN_INVALID', 'config', message)
}
