/**
 * Plan validation at the edge: the zod schema first (types, unknown settings,
 * defaults), then the checks that span settings. After this the code trusts
 * the {@link Plan} type.
 */
import type { PlanIssue } from '../errors.js'
import { crossCheckPlan } from './cross-check.js'
import { planSchema, type Plan } from './schema.js'
import { issuesFromZod } from './schema-issues.js'

/** The outcome of {@link validatePlan}: the plan with defaults filled in, or every problem found. */
export type PlanValidation = { ok: true; plan: Plan } | { ok: false; errors: PlanIssue[] }

/**
 * Validate a plan object (after `${VAR}` expansion) without touching any datasource.
 * Schema problems are reported first; the cross-setting checks (duplicate ids,
 * unknown connections, cursor needed, cron, URL schemes) run once the schema passes.
 * @example
 * const result = validatePlan(yaml.parse(text))
 * if (!result.ok) console.error(formatIssues(result.errors))
 */
export function validatePlan(input: unknown): PlanValidation {
  const parsed = planSchema.safeParse(input)
  if (!parsed.success) return { ok: false, errors: issuesFromZod(parsed.error.issues, input, planSchema) }
  const errors = crossCheckPlan(parsed.data)
  return errors.length > 0 ? { ok: false, errors } : { ok: true, plan: parsed.data }
}

/**
 * One line per issue, `path: message`, each indented by `indent` (default two
 * spaces, as in a {@link PlanError}'s message).
 * @example formatIssues([{ path: 'syncs[0].mode', message: "…" }]) // "  syncs[0].mode: …"
 */
export function formatIssues(issues: readonly PlanIssue[], opts: { indent?: string } = {}): string {
  const indent = opts.indent ?? '  '
  return issues
    .map((issue) => {
      const text = issue.path === '' ? issue.message : `${issue.path}: ${issue.message}`
      return indent + text.replaceAll('\n', `\n${indent}`)
    })
    .join('\n')
}
