/** `syncline validate [--live]`: check the plan, and with --live the datasources too. */
import { formatIssues } from '../plan/validate.js'
import { withManager } from './context.js'
import { EXIT, print, printJson, type GlobalOptions } from './output.js'

/** Exit 0 when valid, 2 with every issue listed otherwise. */
export async function validateCommand(opts: GlobalOptions & { live?: boolean }): Promise<number> {
  // Opening validates the file itself and throws a PlanError with every issue.
  return withManager(opts, async (manager) => {
    const issues = opts.live ? await manager.validateLive() : []
    // What a run of every sync will do about foreign keys between destination tables.
    const foreignKeys = opts.live ? await manager.explainForeignKeys() : []
    // What each sync's schema drift policy would do with source fields added or gone since its last run.
    const schemaDrift = opts.live ? await manager.explainSchemaDrift() : []
    if (opts.json) printJson({ ok: issues.length === 0, syncs: manager.plan.syncs.length, issues, ...(foreignKeys.length > 0 ? { foreignKeys } : {}), ...(schemaDrift.length > 0 ? { schemaDrift } : {}) })
    else if (issues.length === 0) print(`The plan is valid: ${manager.plan.syncs.length} sync(s), ${Object.keys(manager.plan.connections).length} connection(s)${opts.live ? '; datasources, entities and fields checked' : ''}.`)
    else print(`The plan has problems:\n${formatIssues(issues)}`)
    if (!opts.json) for (const line of [...foreignKeys, ...schemaDrift]) print(line)
    return issues.length === 0 ? EXIT.ok : EXIT.badConfig
  })
}
