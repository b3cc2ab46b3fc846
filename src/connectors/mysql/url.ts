/** The URL rules of `mysql://` and `mariadb://` connections. */
import { serverUrlRules } from '../server-url.js'

/** `mysql://user@host:3306/db`; see {@link serverUrlRules}. */
export const mysqlUrlRules = serverUrlRules(3306)
