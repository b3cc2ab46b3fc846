/**
 * Paths into a plan, written the way users read them:
 * `syncs[1].mapping.fields[0].source`, `connections.warehouse.password`.
 */

/** One step of a path: an object key or an array index. */
export type PathSegment = string | number

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/

/**
 * Write a path as `syncs[1].mapping.fields[0].source`. Keys that are not
 * plain names are quoted (`connections["my shop"]`) so the path stays unambiguous.
 * @example formatPath(['syncs', 1, 'keys', 0]) // 'syncs[1].keys[0]'
 */
export function formatPath(segments: readonly PathSegment[]): string {
  let out = ''
  for (const segment of segments) {
    if (typeof segment === 'number') out += `[${segment}]`
    else if (PLAIN_KEY.test(segment)) out += out === '' ? segment : `.${segment}`
    else out += `[${JSON.stringify(segment)}]`
  }
  return out
}

/** Join a prefix path and a relative one (`syncs[0]` + `mapping.fields[1]`). */
export function joinPath(prefix: string, relative: string): string {
  if (relative === '') return prefix
  if (prefix === '') return relative
  return relative.startsWith('[') ? prefix + relative : `${prefix}.${relative}`
}

/** The value at `segments` inside `root`, or undefined when any step is missing. */
export function valueAt(root: unknown, segments: readonly PathSegment[]): unknown {
  let current = root
  for (const segment of segments) {
    if (current === null || typeof current !== 'object') return undefined
    current = (current as Record<PathSegment, unknown>)[segment]
  }
  return current
}

/**
 * Read a path written by {@link formatPath} back into segments.
 * @example parsePath('syncs[1].keys[0]') // ['syncs', 1, 'keys', 0]
 */
export function parsePath(path: string): PathSegment[] {
  const segments: PathSegment[] = []
  const pattern = /\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]|\.?([^.[\]]+)/g
  for (const match of path.matchAll(pattern)) {
    if (match[1] !== undefined) segments.push(Number(match[1]))
    else if (match[2] !== undefined) segments.push(JSON.parse(match[2]) as string)
    else if (match[3] !== undefined) segments.push(match[3])
  }
  return segments
}
