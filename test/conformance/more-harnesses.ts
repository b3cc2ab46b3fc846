/**
 * Harnesses of further connectors, each in a file of its own
 * (`harness-<kind>.ts`), listed here so adding one touches one line.
 */
import type { ConnectorHarness } from './harnesses.js'
import { FILE_HARNESSES } from './harness-file.js'
import { MYSQL_HARNESS } from './harness-mysql.js'
import { POSTGRES_TRIGGERS_HARNESS } from './harness-postgres-triggers.js'

export const EXTRA_HARNESSES: ConnectorHarness[] = [MYSQL_HARNESS, ...FILE_HARNESSES, POSTGRES_TRIGGERS_HARNESS]
