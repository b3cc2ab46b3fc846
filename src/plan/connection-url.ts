/**
 * Static checks of connection URLs: a scheme syncline supports, a URL that
 * parses, and a password given in one place only.
 */
import { didYouMean, type PlanIssue } from '../errors.js'
import { fileUrlProblem } from '../connectors/file/location.js'
import { webhookUrlProblem } from '../connectors/webhook/options.js'
import { hasStrayAt, redactUrl, STRAY_AT_FIX, SUPPORTED_SCHEMES, urlScheme } from '../connectors/registry.js'
import type { ConnectionPlan } from './schema.js'

/** Schemes whose URLs are `scheme://user:password@host/…`. */
const SERVER_SCHEMES = new Set(['postgres', 'postgresql', 'mysql', 'mariadb'])

const SUPPORTED_EXAMPLES =
  'sqlite:PATH (e.g. sqlite:./shop.db), postgres://user@host:5432/db, mysql://user@host:3306/db (mariadb:// too), csv:DIR / ndjson:DIR for a directory of files, or webhook:https://host/path for an HTTP endpoint'

/**
 * Problems with one connection, with paths under `connections.NAME`.
 * @example connectionProblems('shop', { url: 'mysql://localhost/shop' })
 */
export function connectionProblems(name: string, connection: ConnectionPlan, prefix = `connections.${name}`): PlanIssue[] {
  const issues: PlanIssue[] = []
  const url = connection.url.trim()
  const scheme = urlScheme(url)

  if (scheme === '' || /^[a-z]:[\\/]/i.test(url)) {
    issues.push({
      path: `${prefix}.url`,
      message: `'${url}' has no scheme; write sqlite:${url} for a SQLite file, postgres://user@host:5432/db or mysql://user@host:3306/db`,
    })
    return issues
  }
  if (!SUPPORTED_SCHEMES.includes(scheme)) {
    issues.push({ path: `${prefix}.url`, message: `unknown URL scheme '${scheme}:'.${didYouMean(scheme, SUPPORTED_SCHEMES)} Use ${SUPPORTED_EXAMPLES}` })
    return issues
  }

  if (scheme === 'webhook') {
    const problem = webhookUrlProblem(url)
    if (problem !== undefined) issues.push({ path: `${prefix}.url`, message: problem })
    if (connection.password !== undefined) issues.push({ path: `${prefix}.password`, message: `a webhook has no password; use token: \${VAR} or secret: \${VAR} on connection '${name}'` })
    return issues
  }
  if (connection.token !== undefined || connection.secret !== undefined) {
    issues.push({ path: `${prefix}.${connection.token !== undefined ? 'token' : 'secret'}`, message: `only webhook connections take token or secret; remove it from connection '${name}'` })
  }

  if (scheme === 'csv' || scheme === 'ndjson') {
    const problem = fileUrlProblem(url)
    if (problem !== undefined) issues.push({ path: `${prefix}.url`, message: problem })
    if (connection.password !== undefined) {
      issues.push({ path: `${prefix}.password`, message: `files have no password; remove 'password' from connection '${name}'` })
    }
    return issues
  }

  if (scheme === 'sqlite') {
    if (url.slice('sqlite:'.length).replace(/^\/\//, '') === '') {
      issues.push({ path: `${prefix}.url`, message: `the SQLite URL has no file path; write sqlite:./shop.db (relative to the plan file) or sqlite::memory:` })
    }
    if (connection.password !== undefined) {
      issues.push({ path: `${prefix}.password`, message: `SQLite files have no password; remove 'password' from connection '${name}'` })
    }
    return issues
  }

  if (SERVER_SCHEMES.has(scheme)) {
    if (hasStrayAt(url)) {
      issues.push({ path: `${prefix}.url`, message: STRAY_AT_FIX })
      return issues
    }
    let parsed: URL
    try {
      parsed = new URL(url)
    } catch {
      issues.push({
        path: `${prefix}.url`,
        message: `'${redactUrl(url)}' is not a valid URL; write ${scheme}://user@host:${scheme.startsWith('postgres') ? 5432 : 3306}/db (percent-encode special characters in the user name and password, or set the password apart as password: \${VAR})`,
      })
      return issues
    }
    if (parsed.password !== '' && connection.password !== undefined) {
      issues.push({
        path: `${prefix}.password`,
        message: `the password is given twice, in the URL and in 'password'; remove it from the URL and keep password: \${VAR}`,
      })
    }
  }
  return issues
}

/** Problems with the plan's `state` setting (a path, or a postgres:// URL). */
export function stateProblems(state: string): PlanIssue[] {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(state)?.[1]?.toLowerCase()
  if (scheme === undefined) return []
  if (scheme === 'postgres' || scheme === 'postgresql') return hasStrayAt(state) ? [{ path: 'state', message: STRAY_AT_FIX }] : []
  return [
    {
      path: 'state',
      message: `state cannot be kept in a ${scheme}:// database; use a file path (SQLite, e.g. .syncline/state.db) or a postgres:// URL`,
    },
  ]
}

