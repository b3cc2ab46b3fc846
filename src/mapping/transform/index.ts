/**
 * The transform language of `mapping.fields[].transform`: field references,
 * 'text', exact numbers, NULL/TRUE/FALSE, `||` and the functions in
 * functions.ts. Parsed by a small parser, never by `eval`.
 */
export type { CallNode, ConcatNode, FieldNode, LiteralNode, TransformExpression, TransformNode } from './ast.js'
export { TransformError, TransformSyntaxError } from './errors.js'
export { compileTransform, type CompiledTransform } from './evaluate.js'
export { TRANSFORM_FUNCTIONS, type StaticType, type TransformFunction } from './functions.js'
export { parseTransform, transformFieldNodes, transformFieldRefs, type ParseOptions } from './parser.js'
