/** The URL rules of `webhook:` connections. */
import type { ConnectionUrlRules, UrlProblem } from '../url-rules.js'
import { webhookUrlProblem } from './options.js'

/** `webhook:https://host/path[?syncline.timeoutMs=…]` (see options.ts); `token:` or `secret:`, never a password. */
export const webhookUrlRules: ConnectionUrlRules = {
  problems(url, connection, _scheme, name) {
    const problems: UrlProblem[] = []
    const problem = webhookUrlProblem(url)
    if (problem !== undefined) problems.push({ field: 'url', message: problem })
    if (connection.password !== undefined) {
      problems.push({ field: 'password', message: `a webhook has no password; use token: \${VAR} or secret: \${VAR} on connection '${name}'` })
    }
    return problems
  },
}
