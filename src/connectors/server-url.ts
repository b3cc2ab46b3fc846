/**
 * URL rules shared by the connectors whose URLs are
 * `scheme://user:password@host:port/db` (PostgreSQL, MySQL/MariaDB):
 * hiding the password, spotting one that cuts the URL in the wrong place,
 * and the plan-time checks built on them. Free of drivers, so the plan
 * validator can use it without loading one.
 */
import type { ConnectionUrlRules, UrlProblem } from './url-rules.js'

/**
 * The URL with any password replaced by `***`, safe for logs and errors: the
 * one in the user info (up to the last `@`, so a password holding an
 * unencoded `@`, `/`, `?` or `#` is hidden whole) and a `password=` query
 * parameter. A URL with `@` in its path loses a little more than its
 * password (`host:***@db`); never less.
 * @example redactUrl('postgres://u:s3cret@h/db?sslpassword=x') // 'postgres://u:***@h/db?sslpassword=***'
 */
export function redactUrl(url: string): string {
  const withoutQuerySecrets = url.replace(/([?&][a-z]*pass(?:word)?=)[^&#]*/gi, '$1***')
  const match = /^([a-z][a-z0-9+.-]*:\/\/)(.*)$/is.exec(withoutQuerySecrets)
  if (!match) return withoutQuerySecrets
  const [, scheme, rest = ''] = match
  const at = rest.lastIndexOf('@')
  const colon = rest.indexOf(':')
  if (at < 0 || colon < 0 || colon > at) return withoutQuerySecrets
  return `${scheme}${rest.slice(0, colon)}:***${rest.slice(at)}`
}

/**
 * Whether a server URL has an `@` after its host (in its path, or after a
 * `?` or `#` straight after the host): the sign of a password (or user
 * name) holding an unencoded `@`, `/`, `?` or `#`, which moves a piece of
 * the password into the host (`postgres://u:p@ss/w@db/x` reads as host
 * `ss`). An `@` in a query parameter after the path is fine.
 * @example hasStrayAt('mysql://u:p@ss/w@db/x') // true
 */
export function hasStrayAt(url: string): boolean {
  const match = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*(.*)$/is.exec(url)
  const rest = match?.[1] ?? ''
  const at = rest.indexOf('@')
  if (at < 0) return false
  if (!rest.startsWith('/')) return true
  const queryOrFragment = rest.search(/[?#]/)
  return queryOrFragment < 0 || at < queryOrFragment
}

/** What to tell a user whose URL {@link hasStrayAt}, without repeating any of the URL. */
export const STRAY_AT_FIX =
  "the URL has an '@' after its host: a password (or user name) holding an unencoded '@', '/', '?' or '#' cuts the URL in the wrong place: " +
  "percent-encode them in the password as %40, %2F, %3F and %23, or leave the password out of the URL and set password: ${VAR} in the connection " +
  "(a database name with '@' is written %40 too)"

/**
 * The URL rules of a server connector: no stray `@`, a URL that parses, and
 * a password in the URL or in `password:`, not both.
 * @param defaultPort shown in the example of a URL that does not parse.
 * @example const postgresUrlRules = serverUrlRules(5432)
 */
export function serverUrlRules(defaultPort: number): ConnectionUrlRules {
  return {
    problems(url, connection, scheme) {
      if (hasStrayAt(url)) return [{ field: 'url', message: STRAY_AT_FIX }]
      let parsed: URL
      try {
        parsed = new URL(url)
      } catch {
        return [
          {
            field: 'url',
            message: `'${redactUrl(url)}' is not a valid URL; write ${scheme}://user@host:${defaultPort}/db (percent-encode special characters in the user name and password, or set the password apart as password: \${VAR})`,
          },
        ]
      }
      const problems: UrlProblem[] = []
      if (parsed.password !== '' && connection.password !== undefined) {
        problems.push({ field: 'password', message: `the password is given twice, in the URL and in 'password'; remove it from the URL and keep password: \${VAR}` })
      }
      return problems
    },
  }
}
