/** The URL rules of `postgres://` and `postgresql://` connections. */
import { serverUrlRules } from '../server-url.js'

/** `postgres://user@host:5432/db`; see {@link serverUrlRules}. */
export const postgresUrlRules = serverUrlRules(5432)
