/**
 * Compiling a parsed transform into a function of a row: types are checked
 * once against the source fields, then each row runs a tree of closures.
 */
import { didYouMean } from '../../errors.js'
import type { CanonicalType, Row, Value } from '../../values/canonical.js'
import { canonicalText } from '../coerce.js'
import type { TransformExpression, TransformNode } from './ast.js'
import { TransformSyntaxError } from './errors.js'
import { FUNCTIONS_BY_NAME, PARAM_DESCRIPTIONS, PARAM_TYPES, type StaticType } from './functions.js'

/** A transform ready to run on rows. */
export interface CompiledTransform {
  /** The canonical type of every non-null result. */
  resultType: CanonicalType
  /**
   * The result for one source row. Throws a `TransformError` (code
   * `TRANSFORM_FAILED`, failure `data`) naming the function and the value
   * when a value cannot be handled, e.g. NUMBER('abc').
   */
  evaluate(row: Row): Value
}

interface Compiled {
  type: StaticType
  run(row: Row): Value
}

function readField(name: string): (row: Row) => Value {
  // Own properties only: a field called `constructor` must not find Object's.
  return (row) => (Object.hasOwn(row, name) ? (row[name] ?? null) : null)
}

function compileNode(text: string, node: TransformNode, fieldTypes: ReadonlyMap<string, CanonicalType>): Compiled {
  switch (node.kind) {
    case 'field': {
      const type = fieldTypes.get(node.name)
      if (type === undefined) {
        throw new TransformSyntaxError(text, node.position, `unknown field '${node.name}'`, { hint: didYouMean(node.name, fieldTypes.keys()) })
      }
      return { type, run: readField(node.name) }
    }
    case 'literal': {
      const value = node.value
      return { type: node.type, run: () => value }
    }
    case 'concat': {
      const parts = node.parts.map((part) => compileNode(text, part, fieldTypes).run)
      return {
        type: 'text',
        run(row) {
          let out = ''
          for (const part of parts) {
            const value = part(row)
            if (value === null) return null
            out += canonicalText(value)
          }
          return out
        },
      }
    }
    case 'call': {
      const fn = FUNCTIONS_BY_NAME.get(node.name)
      if (!fn) throw new TransformSyntaxError(text, node.position, `unknown function '${node.name}'`)
      const args = node.args.map((arg) => compileNode(text, arg, fieldTypes))
      args.forEach((arg, i) => {
        const kind = fn.param(i)
        const accepted = PARAM_TYPES[kind]
        if (accepted && !accepted.includes(arg.type)) {
          const argNode = node.args[i]!
          const what = argNode.kind === 'field' ? `'${argNode.name}' is ${arg.type}` : `this is ${arg.type}`
          throw new TransformSyntaxError(text, argNode.position, `${fn.name} needs ${PARAM_DESCRIPTIONS[kind]} here, but ${what}`)
        }
      })
      const types = args.map((arg) => arg.type)
      const resultType = fn.resultType(types)
      const runs = args.map((arg) => arg.run)
      const strict = fn.strict
      return {
        type: resultType,
        run(row) {
          const values = new Array<Value>(runs.length)
          for (let i = 0; i < runs.length; i++) {
            const value = runs[i]!(row)
            if (value === null && strict) return null
            values[i] = value
          }
          return fn.apply(values, types, resultType)
        },
      }
    }
  }
}

/**
 * Check a parsed transform against the source fields' types and turn it
 * into a function of a row. Throws {@link TransformSyntaxError} pointing at
 * an unknown field or at an argument of the wrong kind (ROUND of a timestamp).
 * @example
 * const upper = compileTransform(parseTransform('UPPER(Name)'), new Map([['Name', 'text']]))
 * upper.evaluate({ Name: 'ada' }) // 'ADA'
 */
export function compileTransform(expr: TransformExpression, fieldTypes: ReadonlyMap<string, CanonicalType>): CompiledTransform {
  const compiled = compileNode(expr.text, expr.root, fieldTypes)
  return { resultType: compiled.type === 'null' ? 'text' : compiled.type, evaluate: compiled.run }
}
