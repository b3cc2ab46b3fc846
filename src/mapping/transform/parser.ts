/**
 * The transform parser: a small recursive-descent parser over the tokens of
 * lexer.ts. It builds a tree and never evaluates anything; there is no path
 * from a transform to `eval`, `Function` or a JavaScript property lookup.
 *
 * ```
 * expression := operand ( '||' operand )*
 * operand    := call | field | 'text' | number | '-' number | NULL | TRUE | FALSE | '(' expression ')'
 * call       := name '(' [ expression ( ',' expression )* ] ')'
 * field      := name | "quoted name" | `quoted name`
 * ```
 */
import { closestName } from '../../errors.js'
import type { CallNode, FieldNode, LiteralNode, TransformExpression, TransformNode } from './ast.js'
import { TransformSyntaxError } from './errors.js'
import { FUNCTIONS_BY_NAME, TRANSFORM_FUNCTIONS } from './functions.js'
import { tokenize, type Token } from './lexer.js'

/** Deeper nesting than this is refused rather than risking the call stack. */
const MAX_DEPTH = 64

const EXPRESSION_HINT = "expected a value: a field, 'text', a number, NULL, TRUE, FALSE or a function call"

/** Options for {@link parseTransform}. */
export interface ParseOptions {
  /**
   * The mapping's `source` field. When the transform is a single call that
   * names no field at all, this field becomes its first argument, so
   * `{ source: FullName, transform: "SPLIT(' ', 0)" }` means
   * `SPLIT(FullName, ' ', 0)` (DESIGN §1.1).
   */
  implicitArgument?: string
}

class Parser {
  private index = 0
  constructor(
    private readonly text: string,
    private readonly tokens: Token[],
  ) {}

  private get token(): Token {
    return this.tokens[this.index]!
  }

  private fail(position: number, problem: string): never {
    throw new TransformSyntaxError(this.text, position, problem)
  }

  expression(depth: number): TransformNode {
    if (depth > MAX_DEPTH) this.fail(this.token.position, `the transform is nested more than ${MAX_DEPTH} levels deep`)
    const first = this.operand(depth)
    if (this.token.kind !== '||') return first
    const parts = [first]
    const position = this.token.position
    while (this.token.kind === '||') {
      this.index++
      parts.push(this.operand(depth))
    }
    return { kind: 'concat', parts, position }
  }

  private operand(depth: number): TransformNode {
    const token = this.token
    switch (token.kind) {
      case 'name': {
        this.index++
        if (this.token.kind === '(') return this.call(token, depth)
        const keyword = token.value.toUpperCase()
        if (keyword === 'NULL') return { kind: 'literal', type: 'null', value: null, position: token.position }
        if (keyword === 'TRUE' || keyword === 'FALSE') {
          return { kind: 'literal', type: 'boolean', value: keyword === 'TRUE', position: token.position }
        }
        return { kind: 'field', name: token.value, position: token.position }
      }
      case 'quoted-name':
        this.index++
        return { kind: 'field', name: token.value, position: token.position }
      case 'text':
        this.index++
        return { kind: 'literal', type: 'text', value: token.value, position: token.position }
      case 'number':
        this.index++
        return numberLiteral(token.value, token.position)
      case '-': {
        this.index++
        const number = this.token
        if (number.kind !== 'number') this.fail(number.position, "expected a number after '-'")
        this.index++
        return numberLiteral(`-${number.value}`, token.position)
      }
      case '(': {
        this.index++
        const inner = this.expression(depth + 1)
        this.expect(')')
        return inner
      }
      default:
        return this.fail(token.position, EXPRESSION_HINT)
    }
  }

  private call(name: Token, depth: number): CallNode {
    this.index++ // (
    const args: TransformNode[] = []
    if (this.token.kind === ')') {
      this.index++
    } else {
      for (;;) {
        args.push(this.expression(depth + 1))
        if (this.token.kind === ',') {
          this.index++
          continue
        }
        this.expect(')')
        break
      }
    }
    return { kind: 'call', name: name.value.toUpperCase(), written: name.value, args, position: name.position }
  }

  /** Consume `)` or fail: at the end of the text the `)` is what is missing, elsewhere a `,` may be too. */
  private expect(kind: ')'): void {
    if (this.token.kind === kind) {
      this.index++
      return
    }
    this.fail(this.token.position, this.token.kind === 'end' ? "expected ')'" : `expected ',' or ')' but found ${describe(this.token)}`)
  }

  end(): void {
    if (this.token.kind !== 'end') {
      throw new TransformSyntaxError(this.text, this.token.position, `unexpected ${describe(this.token)} after the end of the expression`, {
        hint: '; join values with CONCAT or ||',
      })
    }
  }
}

function describe(token: Token): string {
  switch (token.kind) {
    case 'name':
    case 'quoted-name':
      return `'${token.value}'`
    case 'text':
      return 'a text literal'
    case 'number':
      return `the number ${token.value}`
    default:
      return `'${token.value}'`
  }
}

function numberLiteral(written: string, position: number): LiteralNode {
  if (/^-?\d+$/.test(written)) {
    const value = BigInt(written)
    const safe = value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
    return { kind: 'literal', type: 'integer', value: safe ? Number(value) : value, position }
  }
  // Kept as text so 0.1 stays exactly 0.1; the exponent, if any, is expanded.
  const match = /^(-?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(written)!
  const [, sign = '', int = '', frac = '', exponent = '0'] = match
  const digits = (int || '0') + frac
  const point = (int || '0').length + Number(exponent)
  let body: string
  if (point <= 0) body = `0.${'0'.repeat(-point)}${digits}`
  else if (point >= digits.length) body = digits + '0'.repeat(point - digits.length)
  else body = `${digits.slice(0, point)}.${digits.slice(point)}`
  body = body.replace(/^0+(?=\d)/, '')
  return { kind: 'literal', type: 'decimal', value: sign + body, position }
}

function hasFieldRef(node: TransformNode): boolean {
  switch (node.kind) {
    case 'field':
      return true
    case 'literal':
      return false
    case 'call':
      return node.args.some(hasFieldRef)
    case 'concat':
      return node.parts.some(hasFieldRef)
  }
}

/** Unknown functions and wrong argument counts, pointing at the function name. */
function checkCalls(text: string, node: TransformNode, implicit: CallNode | undefined): void {
  if (node.kind === 'concat') node.parts.forEach((part) => checkCalls(text, part, implicit))
  if (node.kind !== 'call') return
  const fn = FUNCTIONS_BY_NAME.get(node.name)
  if (!fn) {
    const match = closestName(node.written, TRANSFORM_FUNCTIONS)
    const hint = match ? `. Did you mean ${match}?` : `; the functions are ${TRANSFORM_FUNCTIONS.join(', ')}`
    throw new TransformSyntaxError(text, node.position, `unknown function '${node.written}'`, { hint })
  }
  const count = node.args.length
  if (count < fn.minArgs || count > fn.maxArgs) {
    const expected =
      fn.maxArgs === Infinity
        ? `at least ${fn.minArgs} argument${fn.minArgs === 1 ? '' : 's'}`
        : fn.minArgs === fn.maxArgs
          ? `${fn.minArgs} argument${fn.minArgs === 1 ? '' : 's'}`
          : `${fn.minArgs} to ${fn.maxArgs} arguments`
    const note = node === implicit ? `; the source field '${(node.args[0] as FieldNode).name}' is passed first because the transform names no field` : ''
    throw new TransformSyntaxError(text, node.position, `${fn.name} takes ${expected}, got ${count}`, { hint: `${note}; call it as ${fn.signature}` })
  }
  node.args.forEach((arg) => checkCalls(text, arg, implicit))
}

/**
 * Parse a transform. Throws {@link TransformSyntaxError} (code
 * `TRANSFORM_INVALID`) pointing at the character: syntax errors, unknown
 * functions (with the closest name), wrong argument counts.
 * Field names are not checked here; see {@link transformFieldRefs}.
 * @example parseTransform("CONCAT(UPPER(Country), '-', CustomerId)")
 */
export function parseTransform(text: string, options: ParseOptions = {}): TransformExpression {
  const parser = new Parser(text, tokenize(text))
  let root = parser.expression(0)
  parser.end()
  let implicit: CallNode | undefined
  if (options.implicitArgument !== undefined && root.kind === 'call' && !hasFieldRef(root)) {
    implicit = { ...root, args: [{ kind: 'field', name: options.implicitArgument, position: root.position }, ...root.args] }
    root = implicit
  }
  checkCalls(text, root, implicit)
  return { text, root }
}

/** The source fields a transform reads, each once, in order of appearance. */
export function transformFieldRefs(expr: TransformExpression): string[] {
  const names = new Set<string>()
  const visit = (node: TransformNode): void => {
    if (node.kind === 'field') names.add(node.name)
    else if (node.kind === 'call') node.args.forEach(visit)
    else if (node.kind === 'concat') node.parts.forEach(visit)
  }
  visit(expr.root)
  return [...names]
}

/** Every field reference with its position, for messages that point at one. */
export function transformFieldNodes(expr: TransformExpression): FieldNode[] {
  const nodes: FieldNode[] = []
  const visit = (node: TransformNode): void => {
    if (node.kind === 'field') nodes.push(node)
    else if (node.kind === 'call') node.args.forEach(visit)
    else if (node.kind === 'concat') node.parts.forEach(visit)
  }
  visit(expr.root)
  return nodes
}
