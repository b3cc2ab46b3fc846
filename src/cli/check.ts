/** `syncline check [CONNECTION…]`: connect and report version, capabilities, CDC readiness. */
import type { CheckReport } from '../connectors/connector.js'
import { SynclineError } from '../errors.js'
import { withManager } from './context.js'
import { EXIT, exitCodeFor, print, printJson, type GlobalOptions } from './output.js'

/** Check every named connection (default: all); exit 1 when one cannot be reached. */
export async function checkCommand(names: string[], opts: GlobalOptions): Promise<number> {
  return withManager(opts, async (manager) => {
    const selected = names.length > 0 ? names : Object.keys(manager.plan.connections)
    let exit: number = EXIT.ok
    for (const name of selected) {
      try {
        const report = await manager.checkConnection(name)
        if (opts.json) printJson({ ok: true, ...report })
        else print(describeReport(report))
      } catch (error) {
        exit = Math.max(exit, exitCodeFor(error))
        const message = error instanceof Error ? error.message : String(error)
        if (opts.json) printJson({ connection: name, ok: false, ...(error instanceof SynclineError ? { code: error.code } : {}), error: message })
        else print(`${name}: FAILED\n  ${message}`)
      }
    }
    return exit
  })
}

function describeReport(r: CheckReport): string {
  const caps = Object.entries(r.capabilities)
    .filter(([, v]) => v)
    .map(([k]) => k)
  const lines = [`${r.connection}: ok (${r.kind} ${r.version})`, `  capabilities: ${caps.join(', ') || 'none'}`, `  change capture: ${r.cdc.ready ? 'ready' : `not ready${r.cdc.reason ? ` (${r.cdc.reason})` : ''}`}`]
  for (const [k, v] of Object.entries(r.details)) lines.push(`  ${k}: ${String(v)}`)
  return lines.join('\n')
}
