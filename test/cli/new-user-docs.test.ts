/**
 * What a new user reads first must be true: the README's quickstart, the
 * demo's story and the starter plan promise only what this version does.
 */
import Database from 'better-sqlite3'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { STARTER_PLAN } from '../../src/plan/starter.js'
import { tempDir } from '../helpers/services.js'
import { BUILD_TIMEOUT_MS, ensureBuilt, ROOT } from './build.js'
import { cli } from './cli.js'

const dir = tempDir('syncline-new-user-')
beforeAll(ensureBuilt, BUILD_TIMEOUT_MS)
afterAll(() => dir.remove())

/** Commands DESIGN.md promises; some belong to later versions. */
const DESIGN_COMMANDS = ['init', 'validate', 'check', 'discover', 'automap', 'run', 'watch', 'serve', 'verify', 'worker', 'status', 'history', 'conflicts']

async function availableCommands(): Promise<Set<string>> {
  const help = await cli(['--help'], { cwd: dir.path })
  const section = help.stdout.slice(help.stdout.indexOf('Commands:'))
  return new Set([...section.matchAll(/^ {2}([a-z]+)/gm)].map((m) => m[1]!))
}

describe('what a new user reads', () => {
  it('`npm run demo` builds before it runs, so a stale dist/ never runs', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
    expect(pkg.scripts.demo).toMatch(/^npm run build\b.*&& node dist\/demo\/demo\.js$/)
  })

  it('the starter plan and the README name no command this version lacks', async () => {
    const available = await availableCommands()
    expect(available.has('run')).toBe(true)
    const missing = DESIGN_COMMANDS.filter((c) => !available.has(c))
    expect(missing.length).toBeGreaterThan(0) // the check below would be empty otherwise
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
    for (const command of missing) {
      expect(STARTER_PLAN, `starter mentions '${command}'`).not.toMatch(new RegExp(`\\b${command}\\b`))
      expect(readme, `README mentions 'syncline ${command}'`).not.toMatch(new RegExp(`syncline ${command}\\b`))
    }
  })

  it('the README says what `npm test` needs instead of claiming it starts nothing', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
    const quickstart = readme.slice(readme.indexOf('## Quickstart'), readme.indexOf('## The plan file'))
    expect(quickstart).toMatch(/npm test .*PostgreSQL and MariaDB/)
    expect(readme).toMatch(/creates databases of its own/)
  })

  it('the demo says its filter leaves the banned customers out, and the numbers add up', async () => {
    const out = join(dir.path, 'demo')
    const { stdout } = await promisify(execFile)(process.execPath, [join(ROOT, 'dist/demo/demo.js'), out], { cwd: dir.path, env: { ...process.env, NO_COLOR: '1' } })
    const db = new Database(join(out, 'shop.db'), { readonly: true })
    const banned = (db.prepare(`SELECT count(*) AS n FROM Customer WHERE Status = 'banned'`).get() as { n: number }).n
    db.close()
    expect(banned).toBeGreaterThan(0)
    expect(stdout).toContain(`5000 customers (${banned} of them banned)`)
    expect(stdout).toMatch(/filter \(Status != banned\)/)
    expect(stdout).toContain(`customers: succeeded in`)
    expect(stdout).toMatch(new RegExp(`customers: succeeded in [\\d.]+ s — ${5000 - banned} read; ${5000 - banned} created`))
  }, 60_000)
})
