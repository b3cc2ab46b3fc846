/**
 * pgloader, the tool a user would pick for a one-off load, timed beside
 * syncline's first copy: installed with apt-get when missing (root or sudo,
 * and a candidate in `apt-cache policy pgloader`), or the reason it is not
 * printed in its place.
 */
import { spawnSync } from 'node:child_process'
import { hasCommand, timeShell, type Measurement } from './harness.js'

let checked: string | undefined

/** Rows pgloader reads ahead per table; the figure users give it in pgloader's heap-exhausted issues. */
const PGLOADER_PREFETCH_ROWS = 10_000

/** Undefined when pgloader is on the PATH (installing it first if it can), else why it is not. */
export function pgloaderMissing(): string | undefined {
  if (hasCommand('pgloader')) return undefined
  if (checked !== undefined) return checked
  checked = installPgloader()
  return checked
}

function installPgloader(): string | undefined {
  if (!hasCommand('apt-get')) return 'pgloader is not installed and there is no apt-get here'
  const root = process.getuid?.() === 0
  if (!root && !hasCommand('sudo')) return 'pgloader is not installed; apt-get install pgloader needs root (or sudo)'
  const policy = spawnSync('apt-cache', ['policy', 'pgloader'], { encoding: 'utf8' })
  const candidate = /Candidate:\s*(\S+)/.exec(policy.stdout ?? '')?.[1]
  if (candidate === undefined || candidate === '(none)') return 'pgloader is not installed and apt has no candidate for it (apt-cache policy pgloader; apt-get update?)'
  console.log(`\n(installing pgloader ${candidate}: apt-get install -y pgloader)`)
  const command = [...(root ? [] : ['sudo', '-n']), 'apt-get', 'install', '-y', '-q', 'pgloader']
  const install = spawnSync(command[0]!, command.slice(1), { encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
  if (install.status !== 0 || !hasCommand('pgloader')) return `apt-get install pgloader failed (${install.status}): ${(install.stderr ?? '').trim().split('\n').slice(-1)[0] ?? ''}`
  return undefined
}

/**
 * Time `pgloader FROM TO` (a database URL each, the target empty), or
 * print why pgloader is missing or failed and return undefined.
 */
export function timePgloader(name: string, from: string, to: string): Measurement | undefined {
  const missing = pgloaderMissing()
  if (missing !== undefined) {
    console.log(`\n(${name}: not measured, ${missing})`)
    return undefined
  }
  try {
    // Its default prefetch (100,000 rows per table queue) fills Debian's 1 GB Lisp heap on 10,000,000 rows.
    return timeShell(name, `pgloader --quiet --with 'prefetch rows = ${PGLOADER_PREFETCH_ROWS}' '${from}' '${to}'`)
  } catch (error) {
    // Should its heap still run out: report it, go on with the rest.
    console.log(`\n(${name}: failed, not measured: ${(error as { status?: number }).status === undefined ? String(error) : `exit ${(error as { status?: number }).status}`}; its output is above)`)
    return undefined
  }
}
