/**
 * Static checks of connection URLs: a scheme some connector handles, then
 * that connector's own rules (`src/connectors/<name>/url.ts`, through the
 * registry); and the `state` setting.
 */
import { didYouMean, type PlanIssue } from '../errors.js'
import { connectorForScheme, hasStrayAt, STRAY_AT_FIX, SUPPORTED_SCHEMES, supportedExamples, urlScheme } from '../connectors/registry.js'
import type { ConnectionPlan } from './schema.js'

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
  const connector = connectorForScheme(scheme)
  if (!connector) {
    issues.push({ path: `${prefix}.url`, message: `unknown URL scheme '${scheme}:'.${didYouMean(scheme, SUPPORTED_SCHEMES)} Use ${supportedExamples()}` })
    return issues
  }

  if (!connector.takesTokens && (connection.token !== undefined || connection.secret !== undefined)) {
    issues.push({ path: `${prefix}.${connection.token !== undefined ? 'token' : 'secret'}`, message: `only webhook connections take token or secret; remove it from connection '${name}'` })
  }
  if (connection.cdc !== undefined && !(connector.cdcMethods ?? []).includes(connection.cdc)) {
    const accepted = connector.cdcMethods ?? []
    issues.push({
      path: `${prefix}.cdc`,
      message: accepted.length === 0 ? `${scheme}: connections have no change capture; remove cdc from connection '${name}'` : `${scheme}: connections take cdc: ${accepted.join(' or ')}`,
    })
  }
  for (const problem of connector.urlRules.problems(url, connection, scheme, name)) issues.push({ path: `${prefix}.${problem.field}`, message: problem.message })
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

