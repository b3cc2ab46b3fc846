/**
 * The engine's readers of {@link Capabilities}: every strategy choice that
 * depends on what a connector can do goes through here, so the flags (not
 * the optional methods present, never the connector's kind) decide.
 * docs/connectors.md lists what each flag makes the engine do.
 */
import type { Connector } from '../connectors/connector.js'

/** The methods a checksum comparison calls on one side. */
export type RangeChecksumMethods = Required<Pick<Connector, 'rangeChecksum' | 'rangeHashes' | 'rangeSplit' | 'lookup'>> & Pick<Connector, 'streamHashes'>
import { SynclineError } from '../errors.js'

/**
 * Refuse a pass that merges two key-ordered scans (full sync, the delete
 * reconciliation pass) when a side cannot scan in key order: merging
 * unordered streams would report rows as missing and delete them.
 */
export function requireOrderedKeyScan(syncId: string, pass: string, sides: { role: 'source' | 'destination'; connector: Connector }[]): void {
  for (const { role, connector } of sides) {
    if (connector.capabilities.orderedKeyScan) continue
    throw new SynclineError(
      'CAPABILITY_MISSING',
      'config',
      `Sync '${syncId}': ${pass} compares both sides in key order, but the ${role} connection '${connector.name}' (${connector.kind}) cannot scan in key order (capabilities.orderedKeyScan is false). ` +
        `Use mode: incremental with a cursor and deletes: ignore (or a softDelete field) for this connection, or pick a ${role} that scans in key order.`,
    )
  }
}

/** Refuse a realtime sync from a source that emits no change events. */
export function requireChangeCapture(syncId: string, source: Connector): void {
  if (source.capabilities.cdc) return
  throw new SynclineError(
    'CAPABILITY_MISSING',
    'config',
    `Sync '${syncId}': mode: realtime needs change capture, but the source connection '${source.name}' (${source.kind}) has none (capabilities.cdc is false; 'syncline check ${source.name}' shows it). Use mode: incremental with a cursor instead.`,
  )
}

/**
 * Refuse a watch on a connection that emits no change events; otherwise the
 * connector's `openChangeFeed`, bound to it.
 */
export function requireWatchable(connector: Connector): NonNullable<Connector['openChangeFeed']> {
  const open = connector.capabilities.cdc ? connector.openChangeFeed : undefined
  if (open === undefined) {
    throw new SynclineError(
      'CAPABILITY_MISSING',
      'config',
      `Connection '${connector.name}' (${connector.kind}) cannot be watched: it has no change capture (capabilities.cdc is false; 'syncline check ${connector.name}' shows it). ` +
        `Watch a PostgreSQL, MySQL/MariaDB or SQLite connection, or poll this one with a mode: incremental sync.`,
    )
  }
  return open.bind(connector)
}

/** The range checksum methods of a connector, bound to it, or undefined when its flag is off. */
export function rangeChecksumOf(connector: Connector): RangeChecksumMethods | undefined {
  if (!connector.capabilities.rangeChecksum) return undefined
  const { rangeChecksum, rangeHashes, rangeSplit } = connector
  if (!rangeChecksum || !rangeHashes || !rangeSplit) throw declaredWithout(connector, 'rangeChecksum', 'rangeChecksum, rangeHashes and rangeSplit')
  return {
    rangeChecksum: rangeChecksum.bind(connector),
    rangeHashes: rangeHashes.bind(connector),
    rangeSplit: rangeSplit.bind(connector),
    lookup: connector.lookup.bind(connector),
    ...(connector.streamHashes ? { streamHashes: connector.streamHashes.bind(connector) } : {}),
  }
}

/** The commit and rollback of a staging destination; undefined when `apply` commits by itself. */
export function stagingOf(destination: Connector): { commit(entity: string): Promise<void>; rollback(entity: string): Promise<void> } | undefined {
  if (!destination.capabilities.staging) return undefined
  const { commit, rollback } = destination
  if (!commit || !rollback) throw declaredWithout(destination, 'staging', 'commit and rollback')
  return { commit: (entity) => commit.call(destination, entity), rollback: (entity) => rollback.call(destination, entity) }
}

/**
 * The bulk path between two connectors, or undefined when their flags or
 * formats rule it out. `formats` are the shared formats in the source's order
 * of preference: the engine tries the next when one side refuses a format
 * for these fields.
 */
export function bulkPathOf(source: Connector, destination: Connector): { formats: string[]; bulkExport: NonNullable<Connector['bulkExport']>; bulkImport: NonNullable<Connector['bulkImport']> } | undefined {
  if (!source.capabilities.bulkExport || !destination.capabilities.bulkLoad) return undefined
  const formats = (source.bulkFormats ?? []).filter((f) => destination.bulkFormats?.includes(f))
  if (formats.length === 0) return undefined
  const { bulkExport } = source
  const { bulkImport } = destination
  if (!bulkExport) throw declaredWithout(source, 'bulkExport', 'bulkExport')
  if (!bulkImport) throw declaredWithout(destination, 'bulkLoad', 'bulkImport')
  return { formats, bulkExport: bulkExport.bind(source), bulkImport: bulkImport.bind(destination) }
}

function declaredWithout(connector: Connector, flag: string, methods: string): SynclineError {
  return new SynclineError('INTERNAL', 'internal', `Connector '${connector.name}' (${connector.kind}) declares capabilities.${flag} but has no ${methods}; a connector's flags must match its methods (see docs/connectors.md).`)
}
