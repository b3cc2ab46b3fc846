/**
 * Harnesses of further connectors, each in a file of its own
 * (`harness-<kind>.ts`), listed here so adding one touches one line.
 */
import type { ConnectorHarness } from './harnesses.js'

export const EXTRA_HARNESSES: ConnectorHarness[] = []
