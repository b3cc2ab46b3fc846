/**
 * Reading a `webhook:https://…` connection: the endpoint and the delivery
 * options given as `syncline.*` query parameters (removed before posting).
 */
import { SynclineError } from '../../errors.js'

/** How a webhook connection delivers. */
export interface WebhookOptions {
  /** The URL posted to (without the `syncline.*` parameters). */
  endpoint: string
  /** Per-request timeout. Default 10000 ms. */
  timeoutMs: number
  /** Attempts per batch, the first included. Default 5. */
  attempts: number
  /** First wait between attempts, doubled each time. Default 500 ms. */
  backoffMs: number
}

const PARAMS = { timeoutMs: 10_000, attempts: 5, backoffMs: 500 } as const

/**
 * Parse a webhook connection URL.
 * @example webhookOptions('hooks', 'webhook:https://h/in?syncline.timeoutMs=2000') // { endpoint: 'https://h/in', timeoutMs: 2000, attempts: 5, backoffMs: 500 }
 */
export function webhookOptions(connection: string, url: string): WebhookOptions {
  const problem = webhookUrlProblem(url)
  if (problem !== undefined) throw new SynclineError('PLAN_INVALID', 'config', `Connection '${connection}': ${problem}`)
  const parsed = new URL(url.slice('webhook:'.length))
  const options: WebhookOptions = { endpoint: '', ...PARAMS }
  for (const name of Object.keys(PARAMS) as (keyof typeof PARAMS)[]) {
    const text = parsed.searchParams.get(`syncline.${name}`)
    parsed.searchParams.delete(`syncline.${name}`)
    if (text !== null) options[name] = Number(text)
  }
  options.endpoint = parsed.toString()
  return options
}

/**
 * What is wrong with a webhook URL, or undefined: an http(s) URL, and
 * `syncline.*` options that are whole numbers (attempts at least 1).
 * @example webhookUrlProblem('webhook:ftp://x') // "a webhook URL is webhook:https://host/path …"
 */
export function webhookUrlProblem(url: string): string | undefined {
  const rest = url.slice('webhook:'.length)
  let parsed: URL
  try {
    parsed = new URL(rest)
  } catch {
    parsed = new URL('invalid:')
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    return `a webhook URL is webhook:https://host/path (or webhook:http://127.0.0.1:PORT/path for a local endpoint)`
  }
  if (parsed.username !== '' || parsed.password !== '') return `a webhook URL holds no user or password; set token: \${VAR} or secret: \${VAR} on the connection`
  for (const name of Object.keys(PARAMS)) {
    const text = parsed.searchParams.get(`syncline.${name}`)
    if (text === null) continue
    const value = Number(text)
    if (!Number.isInteger(value) || value < (name === 'attempts' ? 1 : 0)) return `syncline.${name} must be a whole number${name === 'attempts' ? ' of at least 1' : ''} (got '${text}')`
  }
  return undefined
}
