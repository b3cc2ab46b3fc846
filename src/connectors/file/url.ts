/** The URL rules of `csv:` and `ndjson:` connections. */
import type { ConnectionUrlRules, UrlProblem } from '../url-rules.js'
import { fileUrlProblem } from './location.js'

/** `csv:DIR[?delimiter=;]` or `ndjson:DIR` (see location.ts); no password. */
export const fileUrlRules: ConnectionUrlRules = {
  problems(url, connection, _scheme, name) {
    const problems: UrlProblem[] = []
    const problem = fileUrlProblem(url)
    if (problem !== undefined) problems.push({ field: 'url', message: problem })
    if (connection.password !== undefined) {
      problems.push({ field: 'password', message: `files have no password; remove 'password' from connection '${name}'` })
    }
    return problems
  },
}
