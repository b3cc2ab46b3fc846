/**
 * `${VAR}` expansion in plan values, so secrets live in the environment and
 * never in the plan file.
 *
 * - `${VAR}`: the variable's value; an unset variable is an error.
 * - `${VAR:-default}`: the default when VAR is unset or empty.
 * - `${VAR-default}`: the default only when VAR is unset.
 * - `$${`: a literal `${`.
 *
 * A bare `$VAR` is left alone on purpose: `$` is common in passwords and
 * LIKE patterns, and shells would already have expanded it where intended.
 */
import { PlanError, type PlanIssue } from '../errors.js'
import { formatPath, type PathSegment } from './path.js'

const REFERENCE = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([\s\S]*))?$/

/** The result of expanding one string: its value, or why it could not be expanded. */
export type ExpandedString = { ok: true; value: string } | { ok: false; problem: string }

/**
 * Expand `${VAR}` references in one string.
 * @example expandEnvString('${HOME:-/root}/data', process.env)
 */
export function expandEnvString(text: string, env: NodeJS.ProcessEnv): ExpandedString {
  let out = ''
  let i = 0
  while (i < text.length) {
    if (text.startsWith('$${', i)) {
      out += '${'
      i += 3
      continue
    }
    if (!text.startsWith('${', i)) {
      out += text[i]
      i += 1
      continue
    }
    const close = text.indexOf('}', i + 2)
    if (close < 0) {
      return { ok: false, problem: `'${text.slice(i)}' has no closing '}'; write \${NAME}, or $\${ for a literal \${` }
    }
    const inner = text.slice(i + 2, close)
    const match = REFERENCE.exec(inner)
    if (!match) {
      return {
        ok: false,
        problem: `'\${${inner}}' is not a variable reference; write \${NAME} or \${NAME:-default}, or $\${ for a literal \${`,
      }
    }
    const [, name = '', operator, fallback = ''] = match
    const current = env[name]
    if (operator === ':-' && (current === undefined || current === '')) out += fallback
    else if (operator === '-' && current === undefined) out += fallback
    else if (current === undefined) {
      return { ok: false, problem: `environment variable ${name} is not set; export it or use \${${name}:-default}` }
    } else out += current
    i = close + 1
  }
  return { ok: true, value: out }
}

/** True when the string holds a `${…}` reference (not counting escaped `$${`). */
export function hasEnvReference(text: string): boolean {
  return /(^|[^$])\$\{/.test(text)
}

/**
 * Expand `${VAR}` in every string inside `value` (objects and arrays are
 * copied, keys are left alone). Every missing variable is reported at once.
 * @throws PlanError with code `ENV_MISSING`, one issue per string, at its path
 *   (`connections.warehouse.password: environment variable WAREHOUSE_PASSWORD is not set; …`).
 * @example expandEnv({ password: '${PGPASSWORD}' }, process.env)
 */
export function expandEnv(value: unknown, env: NodeJS.ProcessEnv): unknown {
  const issues: PlanIssue[] = []
  const result = walk(value, [], env, issues)
  if (issues.length > 0) throw new PlanError(issues, { code: 'ENV_MISSING' })
  return result
}

function walk(value: unknown, path: PathSegment[], env: NodeJS.ProcessEnv, issues: PlanIssue[]): unknown {
  if (typeof value === 'string') {
    if (!value.includes('${')) return value
    const expanded = expandEnvString(value, env)
    if (expanded.ok) return expanded.value
    issues.push({ path: formatPath(path), message: expanded.problem })
    return value
  }
  if (Array.isArray(value)) return value.map((item, index) => walk(item, [...path, index], env, issues))
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {}
    for (const [key, item] of Object.entries(value)) out[key] = walk(item, [...path, key], env, issues)
    return out
  }
  return value
}

/** A `{…}` object as YAML or JSON produce (not a Date, Buffer or class instance). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false
  const proto = Object.getPrototypeOf(value) as unknown
  return proto === Object.prototype || proto === null
}
