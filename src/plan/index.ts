/**
 * The plan model: schema, loading, `${VAR}` expansion, validation, saving.
 */
export * from './schema.js'
export { loadPlanFile, parsePlan, type LoadedPlan, type ParsePlanOptions } from './load.js'
export { expandEnv, expandEnvString, hasEnvReference } from './env.js'
export { validatePlan, formatIssues, type PlanValidation } from './validate.js'
export { savePlanFile, type SavePlanOptions, type SavePlanResult } from './save.js'
export { STARTER_PLAN, STARTER_SOURCE_SQL } from './starter.js'
export { validatePlanLive, ORDERABLE_CURSOR_TYPES, type LiveValidationDeps } from './live-validate.js'
export { cronProblem, createSchedule, timezoneProblem, CRON_NICKNAMES } from './cron.js'
export { formatPath, parsePath } from './path.js'
export type { LocatedPlanIssue } from './yaml-location.js'
