/**
 * The two ways a transform fails: it is not valid (found when the plan is
 * checked, points at the character) or it failed on one record's value
 * (found while syncing, names the function and the value).
 */
import { SynclineError, type SynclineErrorOptions } from '../../errors.js'

/**
 * The line of `expression` holding `position`, and a caret under it. Tabs
 * are kept and every other character, astral ones included, takes one column
 * so the caret lines up in a terminal.
 */
function caretLines(expression: string, position: number, indent: string): [string, string] {
  const lineStart = position === 0 ? 0 : expression.lastIndexOf('\n', position - 1) + 1
  const lineEndIndex = expression.indexOf('\n', position)
  const line = expression.slice(lineStart, lineEndIndex < 0 ? expression.length : lineEndIndex)
  const before = Array.from(expression.slice(lineStart, position), (c) => (c === '\t' ? '\t' : ' ')).join('')
  return [indent + line, `${indent}${before}^`]
}

/**
 * A transform that does not parse, calls an unknown function, passes the
 * wrong number or kind of arguments, or names an unknown field. Code
 * `TRANSFORM_INVALID`, failure `config`. The message shows the expression
 * with a caret under the character:
 *
 * ```
 * SPLIT(FullName, ' ', 0
 *                       ^ expected ')' at character 23
 * ```
 */
export class TransformSyntaxError extends SynclineError {
  /** 0-based index into {@link expression} of the offending character. */
  readonly position: number
  /** The transform as written. */
  readonly expression: string
  /** The problem alone, e.g. `expected ')'`. */
  readonly problem: string
  /** What to do about it, e.g. ` Did you mean SPLIT?` (with a leading space), or ''. */
  readonly hint: string

  constructor(expression: string, position: number, problem: string, options: SynclineErrorOptions & { hint?: string } = {}) {
    const [line, caret] = caretLines(expression, position, '')
    const hint = options.hint ?? ''
    super('TRANSFORM_INVALID', 'config', `${line}\n${caret} ${problem} at character ${position + 1}${hint}`, {
      cause: options.cause,
      details: { expression, position, problem, ...options.details },
    })
    this.position = position
    this.expression = expression
    this.problem = problem
    this.hint = hint
  }

  /**
   * The problem, then the expression and a caret on their own lines, each
   * indented: the shape of a plan issue message.
   * @example
   * // expected ')' at character 23
   * //     SPLIT(FullName, ' ', 0
   * //                           ^
   */
  describe(indent = '    '): string {
    const [line, caret] = caretLines(this.expression, this.position, indent)
    return `${this.problem} at character ${this.position + 1}${this.hint}\n${line}\n${caret}`
  }
}

/**
 * A transform failed on a value (NUMBER('abc'), DATE_FORMAT of a non-date).
 * Code `TRANSFORM_FAILED`, failure `data`: the record is rejected, the run
 * goes on within the plan's error budget.
 */
export class TransformError extends SynclineError {
  constructor(message: string, options: SynclineErrorOptions = {}) {
    super('TRANSFORM_FAILED', 'data', message, options)
  }
}
