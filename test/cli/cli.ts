/**
 * Running the built `syncline` command as a user would: a child process in
 * its own working directory, with its exit code, stdout and stderr.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { CLI } from './build.js'

/** What a finished command left behind. */
export interface CliResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  /** stdout and stderr together, for "never appears anywhere" checks. */
  all: string
}

/** Options for one command. */
export interface CliOptions {
  cwd: string
  /** Added to a clean environment (no SYNCLINE_CONFIG, no colours). */
  env?: Record<string, string>
  /** Kill the command after this long (default 60 s). */
  timeoutMs?: number
}

function environment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' }
  delete env.SYNCLINE_CONFIG
  delete env.SYNCLINE_DEBUG
  return { ...env, ...extra }
}

/** A running command, for tests that interrupt it. */
export interface RunningCli {
  child: ChildProcess
  /** Output so far. */
  readonly stdout: string
  readonly stderr: string
  /** Resolves when stderr matches (or rejects when the command ends first). */
  waitForStderr(pattern: RegExp): Promise<void>
  /** Resolves when the command ends. */
  done: Promise<CliResult>
}

/** Start `syncline ARGS…` without waiting for it. */
export function startCli(args: string[], opts: CliOptions): RunningCli {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd, env: environment(opts.env), stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  let ended: Error | undefined
  const watchers: Array<{ pattern: RegExp; resolve: () => void; reject: (e: Error) => void }> = []
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
    for (const w of [...watchers]) {
      if (w.pattern.test(stderr)) {
        watchers.splice(watchers.indexOf(w), 1)
        w.resolve()
      }
    }
  })
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000)
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      ended = new Error(`syncline ${args.join(' ')} ended (code ${code}) before stderr matched:\n${stderr}`)
      for (const w of watchers.splice(0)) w.reject(new Error(`syncline ${args.join(' ')} ended (code ${code}) before stderr matched ${w.pattern}:\n${stderr}`))
      resolve({ code, signal, stdout, stderr, all: `${stdout}\n${stderr}` })
    })
  })
  return {
    child,
    get stdout() {
      return stdout
    },
    get stderr() {
      return stderr
    },
    waitForStderr(pattern) {
      if (pattern.test(stderr)) return Promise.resolve()
      if (ended) return Promise.reject(ended)
      return new Promise((resolve, reject) => watchers.push({ pattern, resolve, reject }))
    },
    done,
  }
}

/** Run `syncline ARGS…` to the end. */
export function cli(args: string[], opts: CliOptions): Promise<CliResult> {
  return startCli(args, opts).done
}

/** The JSON objects printed one per line on stdout. */
export function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>)
}

/** A Node stack frame, as printed by an uncaught error. */
export const STACK_FRAME = /^\s+at .+(:\d+:\d+\)?|\(node:.+\))$/m
