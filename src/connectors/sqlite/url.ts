/** The URL rules of `sqlite:` connections. */
import type { ConnectionUrlRules, UrlProblem } from '../url-rules.js'

/** `sqlite:PATH` (relative to the plan file) or `sqlite::memory:`; no password. */
export const sqliteUrlRules: ConnectionUrlRules = {
  problems(url, connection, _scheme, name) {
    const problems: UrlProblem[] = []
    if (url.slice('sqlite:'.length).replace(/^\/\//, '') === '') {
      problems.push({ field: 'url', message: `the SQLite URL has no file path; write sqlite:./shop.db (relative to the plan file) or sqlite::memory:` })
    }
    if (connection.password !== undefined) {
      problems.push({ field: 'password', message: `SQLite files have no password; remove 'password' from connection '${name}'` })
    }
    return problems
  },
}
