/**
 * Where a plan path sits in the YAML text, so issues can say `(line 14)`.
 */
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml'
import type { PlanIssue } from '../errors.js'
import { parsePath } from './path.js'

/** A plan issue with the line (1-based) it refers to in the plan file, when known. */
export interface LocatedPlanIssue extends PlanIssue {
  line?: number
  column?: number
}

/**
 * Attach line numbers from `source` to issues: each gets `line`/`column` and
 * ` (line N)` appended to its message. A path that does not exist in the text
 * (a missing setting) points at the nearest enclosing setting that does.
 */
export function locateIssues(issues: readonly PlanIssue[], source: string): LocatedPlanIssue[] {
  const lineCounter = new LineCounter()
  const doc = parseDocument(source, { lineCounter })
  if (doc.errors.length > 0) return [...issues]
  const located = issues.map((issue): LocatedPlanIssue => {
    if (issue.path === '') return issue
    const offset = offsetOf(doc.contents, parsePath(issue.path))
    if (offset === undefined) return issue
    const { line, col } = lineCounter.linePos(offset)
    return { ...issue, message: `${issue.message} (line ${line})`, line, column: col }
  })
  // File order reads best; issues without a line (the whole plan) come first. The sort is stable.
  return located.sort((a, b) => (a.line ?? 0) - (b.line ?? 0))
}

/** Offset of the deepest node along `path`: the key for a mapping entry, the item for a list entry. */
function offsetOf(root: unknown, path: ReturnType<typeof parsePath>): number | undefined {
  let node = root
  let offset = rangeStart(root)
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(segment))
      if (!pair) break
      offset = rangeStart(pair.key) ?? offset
      node = pair.value
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment]
      if (item === undefined) break
      offset = rangeStart(item) ?? offset
      node = item
    } else break
  }
  return offset
}

function rangeStart(node: unknown): number | undefined {
  return (node as Node | null)?.range?.[0]
}
