/**
 * The contract of a connector's URL rules: the checks the plan validator
 * runs on a connection before anything connects. Each connector folder
 * owns its rules (`<name>/url.ts`), and the registry hands them out by
 * scheme, so the plan knows no connector's URL format.
 */

/** What the URL rules see of a connection. */
export interface UrlConnection {
  url: string
  /** `password:` of the connection, when given. */
  password?: string | undefined
}

/** One problem with a connection, on its `url` or its `password`. */
export interface UrlProblem {
  field: 'url' | 'password'
  /** What is wrong and how to fix it; never repeats a password. */
  message: string
}

/** A connector's static checks of its connection URLs. */
export interface ConnectionUrlRules {
  /**
   * Problems with a connection whose URL has one of the connector's schemes.
   * @param url the trimmed URL; @param scheme its scheme, lower case; @param name the connection's name
   */
  problems(url: string, connection: UrlConnection, scheme: string, name: string): UrlProblem[]
}
