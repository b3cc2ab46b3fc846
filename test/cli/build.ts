/**
 * CLI tests run the built command (`node dist/cli/index.js`, bundled as
 * `npm run build` bundles it) the way a user does, so `dist` must match
 * `src`. {@link ensureBuilt} rebuilds it when any
 * source file is newer than the last build. Test files run in parallel
 * processes: a lock directory lets one of them build while the others wait,
 * and they find `dist` fresh when they get the lock.
 */
import { execFile } from 'node:child_process'
import { mkdirSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync, existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

/** The checkout the tests run in. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
/** The built command. */
export const CLI = join(ROOT, 'dist/cli/index.js')

// Kept out of dist, which is what the package ships.
const STAMP = join(ROOT, 'node_modules/.cache/syncline-cli-test/built')
const LOCK = join(ROOT, 'node_modules/.cache/syncline-cli-test/building.lock')
/** A lock older than this was left by a killed process. */
const STALE_LOCK_MS = 180_000

/** Timeout for a beforeAll that calls {@link ensureBuilt}: a build takes 10-30 s on a busy machine. */
export const BUILD_TIMEOUT_MS = 240_000

function newestSourceMtime(dir: string): number {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) newest = Math.max(newest, newestSourceMtime(path))
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs)
  }
  return newest
}

function isFresh(): boolean {
  if (!existsSync(CLI) || !existsSync(STAMP)) return false
  const inputs = Math.max(newestSourceMtime(join(ROOT, 'src')), statSync(join(ROOT, 'tsconfig.json')).mtimeMs, statSync(join(ROOT, 'tsconfig.build.json')).mtimeMs, statSync(join(ROOT, 'scripts/bundle-cli.mjs')).mtimeMs)
  return statSync(STAMP).mtimeMs >= inputs
}

async function acquireLock(): Promise<void> {
  mkdirSync(dirname(LOCK), { recursive: true })
  for (;;) {
    try {
      mkdirSync(LOCK)
      return
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      try {
        if (Date.now() - statSync(LOCK).mtimeMs > STALE_LOCK_MS) rmSync(LOCK, { recursive: true, force: true })
      } catch {
        // Released meanwhile.
      }
      await new Promise((r) => setTimeout(r, 250))
    }
  }
}

/**
 * Make sure `dist` holds a build of the current `src`. Type errors in files
 * being edited elsewhere do not stop tsc from emitting, so only a missing
 * CLI entry point fails the build.
 */
export async function ensureBuilt(): Promise<void> {
  if (isFresh()) return
  await acquireLock()
  try {
    if (isFresh()) return
    // Stamped with the start time: a file saved during the build makes the next check rebuild.
    const started = new Date()
    let output = ''
    try {
      await promisify(execFile)('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 })
    } catch (error) {
      output = String((error as { stdout?: string }).stdout ?? '') + String((error as { stderr?: string }).stderr ?? '')
    }
    if (!existsSync(CLI)) throw new Error(`the build did not produce ${CLI}:\n${output}`)
    // Then the command as `npm run build` ships it: one bundle over tsc's modules (scripts/bundle-cli.mjs).
    await promisify(execFile)(process.execPath, [join(ROOT, 'scripts/bundle-cli.mjs')], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 })
    mkdirSync(dirname(STAMP), { recursive: true })
    writeFileSync(STAMP, '')
    utimesSync(STAMP, started, started)
  } finally {
    rmSync(LOCK, { recursive: true, force: true })
  }
}
