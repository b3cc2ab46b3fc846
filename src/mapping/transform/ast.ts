/**
 * The syntax tree of a transform. Every node keeps the 0-based character
 * position it starts at, so later checks (field types, argument kinds) can
 * point at it the way parse errors do.
 */
import type { Value } from '../../values/canonical.js'

/** A reference to a source field: `FullName`, `"Full Name"` or `` `Full Name` ``. */
export interface FieldNode {
  kind: 'field'
  name: string
  position: number
}

/** A literal. Numbers stay exact: integers as number/bigint, others as decimal strings. */
export interface LiteralNode {
  kind: 'literal'
  type: 'text' | 'integer' | 'decimal' | 'boolean' | 'null'
  value: Value
  position: number
}

/** A function call; `name` is upper case, `position` is where the name starts. */
export interface CallNode {
  kind: 'call'
  name: string
  /** The name as written, for messages. */
  written: string
  args: TransformNode[]
  position: number
}

/** `a || b || c`: text concatenation, NULL in → NULL out (as in SQL). */
export interface ConcatNode {
  kind: 'concat'
  parts: TransformNode[]
  /** Where the first `||` is. */
  position: number
}

/** Any node of a transform. */
export type TransformNode = FieldNode | LiteralNode | CallNode | ConcatNode

/** A parsed transform: the text as written and its tree. */
export interface TransformExpression {
  text: string
  root: TransformNode
}
