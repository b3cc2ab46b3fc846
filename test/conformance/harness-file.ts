/**
 * Conformance harnesses of the file connector, `csv` and `ndjson`.
 *
 * A file destination writes its file only at `commit` (the end of a run),
 * so each harness pairs two connectors on one directory: writes go to one
 * and are committed at once, reads go to the other, which loads the file
 * again whenever it changed. Every case therefore round-trips through the
 * file on disk (and its sidecar schema), not just the staging database.
 * The staging cases (staging.test.ts) use the writer as it is (`staged`):
 * several batches, then one commit or a rollback.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Connector } from '../../src/connectors/connector.js'
import { createConnector } from '../../src/connectors/registry.js'
import { tempDir } from '../helpers/services.js'
import type { ConnectorHarness } from './harnesses.js'

/** Writes commit as they go; reads see the committed files. */
function committingConnector(writer: Connector, reader: Connector): Connector {
  return {
    name: reader.name,
    kind: reader.kind,
    // It commits after every apply: to the engine it is not a staging destination.
    capabilities: { ...reader.capabilities, staging: false },
    check: (opts) => reader.check(opts),
    discover: (entity) => reader.discover(entity),
    describe: (entity) => reader.describe(entity),
    count: (entity, filters) => reader.count(entity, filters),
    scan: (entity, opts) => reader.scan(entity, opts),
    lookup: (entity, keys, values, fields, opts) => reader.lookup(entity, keys, values, fields, opts),
    physicalIdentity: (entity, opts) => reader.physicalIdentity!(entity, opts),
    ...(reader.timestampSpellings ? { timestampSpellings: (entity: string, field: string) => reader.timestampSpellings!(entity, field) } : {}),
    apply: async (entity, batch, opts) => {
      const result = await writer.apply(entity, batch, opts)
      await writer.commit!(entity)
      return result
    },
    ensureEntity: async (entity, fields, keys) => {
      await writer.ensureEntity(entity, fields, keys)
      await writer.commit!(entity)
    },
    close: async () => {
      await writer.close()
      await reader.close()
    },
  }
}

function fileHarness(kind: 'csv' | 'ndjson'): ConnectorHarness {
  return {
    kind,
    available: async () => true,
    open: async () => {
      const dir = tempDir(`syncline-conformance-${kind}-`)
      const url = `${kind}:${dir.path}`
      const writer = await createConnector({ name: 'conformance', url })
      const connector = committingConnector(writer, await createConnector({ name: 'conformance', url }))
      return {
        connector,
        staged: writer,
        snapshot: () => new Map(readdirSync(dir.path, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => [join(e.parentPath, e.name), readFileSync(join(e.parentPath, e.name))])),
        cleanup: async () => {
          await connector.close()
          dir.remove()
        },
      }
    },
  }
}

/** The `csv` and `ndjson` harnesses. */
export const FILE_HARNESSES: ConnectorHarness[] = [fileHarness('csv'), fileHarness('ndjson')]
