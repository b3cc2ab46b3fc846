/**
 * `syncline serve` as a real child process for tests: started on a free
 * port (`--port 0`), its URL read from its "listening" log line, its JSON
 * log lines parsed, and a small HTTP client for its API.
 */
import { startCli, type CliResult, type RunningCli } from '../cli/cli.js'

/** A test token (16+ characters, as serve requires). */
export const TEST_TOKEN = 'test-token-0123456789abcdef'

/** A running daemon. */
export interface DaemonProcess {
  cli: RunningCli
  url: string
  /** Every JSON log line so far. */
  logs(): Record<string, unknown>[]
  /** Call the API (with the test token unless `token` says otherwise; null: no header). */
  api<T = unknown>(path: string, opts?: { method?: string; token?: string | null; body?: unknown }): Promise<{ status: number; body: T }>
  /** Send a signal and wait for the exit. */
  stop(signal?: NodeJS.Signals): Promise<CliResult>
}

/** Start `syncline serve --port 0 ARGS…` in `cwd` and wait until it listens. */
export async function startDaemon(cwd: string, opts: { args?: string[]; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<DaemonProcess> {
  const cli = startCli(['serve', '--port', '0', '--log-level', 'debug', ...(opts.args ?? [])], {
    cwd,
    env: { SYNCLINE_TOKEN: TEST_TOKEN, ...opts.env },
    timeoutMs: opts.timeoutMs ?? 120_000,
  })
  await cli.waitForStderr(/"msg":"listening"/)
  const logs = () =>
    cli.stderr
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
  const url = String(logs().find((l) => l.msg === 'listening')!.url)
  return {
    cli,
    url,
    logs,
    async api<T>(path: string, o: { method?: string; token?: string | null; body?: unknown } = {}) {
      const headers: Record<string, string> = {}
      const token = o.token === undefined ? TEST_TOKEN : o.token
      if (token !== null) headers.authorization = `Bearer ${token}`
      if (o.body !== undefined || o.method === 'POST') headers['content-type'] = 'application/json'
      const response = await fetch(`${url}${path}`, { method: o.method ?? 'GET', headers, ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}) })
      const text = await response.text()
      let body: unknown = text
      try {
        body = JSON.parse(text)
      } catch {
        // Prometheus text.
      }
      return { status: response.status, body: body as T }
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill(signal)
      return cli.done
    },
  }
}

/** Poll `check` every 50 ms until it returns a value other than undefined/false, or fail after `ms`. */
export async function waitFor<T>(check: () => Promise<T | undefined | false> | T | undefined | false, ms = 20_000, what = 'the condition'): Promise<T> {
  const until = Date.now() + ms
  for (;;) {
    const value = await check()
    if (value !== undefined && value !== false) return value
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}
