/**
 * The mapping and filter checks that need no datasource: transforms parse
 * (syntax, known functions, argument counts) and filter values have a shape
 * their operator can use. `syncline validate`, `manager.validate(plan)` and
 * every run make them; `--live` and the engine add what needs the entities
 * (field names and types), through the same functions.
 */
import type { PlanIssue } from '../errors.js'
import type { SyncPlan } from '../plan/schema.js'
import { filterValueProblem } from './filters.js'
import { parseTransform, TransformSyntaxError, type TransformExpression } from './transform/index.js'

/**
 * Parse one mapping field's transform. A problem is added to `issues` at
 * `path` with the parser's caret message, and the result is undefined.
 * @example parseFieldTransform("SPLIT(' ', 0)", 'FullName', 'mapping.fields[1].transform', issues)
 */
export function parseFieldTransform(text: string, sourceName: string | undefined, path: string, issues: PlanIssue[]): TransformExpression | undefined {
  try {
    return parseTransform(text, sourceName === undefined ? {} : { implicitArgument: sourceName })
  } catch (error) {
    if (!(error instanceof TransformSyntaxError)) throw error
    issues.push({ path, message: error.describe() })
    return undefined
  }
}

/**
 * Every problem of a sync's mapping and filters that shows without its
 * entities, with paths relative to the sync (`mapping.fields[1].transform`,
 * `filters[0].value`).
 * @example offlineSyncIssues(sync).map((i) => `syncs[0].${i.path}`)
 */
export function offlineSyncIssues(sync: Pick<SyncPlan, 'mapping' | 'filters'>): PlanIssue[] {
  const issues: PlanIssue[] = []
  sync.mapping.fields.forEach((field, index) => {
    if (field.transform !== undefined) parseFieldTransform(field.transform, field.source, `mapping.fields[${index}].transform`, issues)
  })
  sync.filters.forEach((filter, index) => {
    const problem = filterValueProblem(filter)
    if (problem) issues.push({ path: `filters[${index}].${problem.setting}`, message: problem.message })
  })
  return issues
}
