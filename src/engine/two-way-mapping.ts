/**
 * The plan's mapping run both ways (docs/two-way.md). Forward is the sync's
 * record mapper (source row → destination row); backward is a second record
 * mapper built from the same field pairs turned round, so destination values
 * are converted and checked against the source's column types the same way.
 * Transforms cannot be turned round: plan validation refuses them unless
 * the field is `oneWay`, written forward only and never compared.
 */
import { PlanError } from '../errors.js'
import { createRecordMapper, type RecordMapper } from '../mapping/record-mapper.js'
import type { CanonicalType, Row } from '../values/canonical.js'
import { sortKeyEncodable } from '../values/sort-key.js'
import type { PreparedSync } from './prepare-sync.js'
import type { HashedFields } from './row-hash.js'

/** Both directions of a two-way sync's mapping, and what is compared. */
export interface TwoWayMapping {
  /** Source row → destination row (every mapped field, one-way fields included). */
  forward: RecordMapper
  /** Destination row → source row (two-way fields only). */
  backward: RecordMapper
  /** Destination fields hashed into the base: two-way fields except the cursors (a side that stamps its own cursor on every write must not look changed). */
  compared: HashedFields
  /** Destination fields to read: keys, mapped fields, the destination cursor. */
  destinationFields: string[]
  /** The destination's cursor field and its type. */
  destinationCursor: string
  destinationCursorType: CanonicalType
  /** The source's cursor field and its type. */
  sourceCursor: string
  sourceCursorType: CanonicalType
}

/**
 * Build both directions for a prepared sync; a {@link PlanError} names what
 * to change when the sync cannot run two-way against these entities.
 */
export function twoWayMapping(p: PreparedSync, index: number): TwoWayMapping {
  const at = `syncs[${index}]`
  const plan = p.plan
  const forward = p.mapper
  const oneWay = new Set(plan.mapping.fields.filter((f) => f.oneWay === true).map((f) => f.destination))
  const sourceCursor = plan.cursor!
  const sourceCursorField = p.sourceEntity.fields.find((f) => f.name === sourceCursor)
  const cursorTarget = forward.fields.find((f) => f.source === sourceCursor && f.transform === undefined)?.destination
  const destinationCursor = plan.destinationCursor ?? cursorTarget
  const destinationCursorField = p.destinationEntity.fields.find((f) => f.name === destinationCursor)
  if (destinationCursor === undefined || destinationCursorField === undefined) {
    const message =
      destinationCursor === undefined
        ? `the source cursor '${sourceCursor}' is not mapped to a destination field, so the destination's changes cannot be found; set destinationCursor to the destination field that increases whenever a row changes there, e.g. destinationCursor: modified`
        : `unknown field '${destinationCursor}' in ${p.destinationEntity.name}; destinationCursor names the destination field that increases whenever a row changes there`
    throw new PlanError([{ path: `${at}.${plan.destinationCursor === undefined ? 'cursor' : 'destinationCursor'}`, message }])
  }
  if (!sortKeyEncodable(p.keyTypes)) {
    throw new PlanError([
      { path: `${at}.keys`, message: `two-way sync keeps its base by key and supports integer, decimal, float, text, uuid, date, time, timestamp, boolean, bytes and json keys; the keys here are ${p.keyTypes.join(', ')}` },
    ])
  }
  for (const [end, connector] of [['source', p.source], ['destination', p.destination]] as const) {
    if (connector.capabilities.staging || !connector.capabilities.orderedKeyScan) {
      throw new PlanError([
        { path: `${at}.${end}`, message: `${connector.name} (${connector.kind}) cannot be a side of a two-way sync: both sides must commit each write and scan in key order (databases)` },
      ])
    }
  }

  const pairs = forward.fields.filter((f) => f.source !== undefined && f.transform === undefined && !oneWay.has(f.destination))
  let backward: RecordMapper
  try {
    backward = createRecordMapper({
      mapping: { auto: false, exclude: [], fields: pairs.map((f) => ({ source: f.destination, destination: f.source! })) },
      keys: p.destinationKeys,
      source: p.destinationEntity,
      destination: p.sourceEntity,
      labels: { source: `${plan.destination.connection}.${plan.destination.entity}`, destination: `${plan.source.connection}.${plan.source.entity}` },
    })
  } catch (error) {
    if (!(error instanceof PlanError)) throw error
    const issues = error.issues.map((i) => ({ path: `${at}.mapping`, message: `written back to the source: ${i.message}` }))
    throw new PlanError(issues, { cause: error })
  }
  const skip = new Set([cursorTarget, destinationCursor])
  const comparedFields = pairs.filter((f) => !skip.has(f.destination))
  const destinationFields = [...new Set([...p.destinationKeys, ...forward.fields.map((f) => f.destination), destinationCursor])]
  return {
    forward,
    backward,
    compared: { names: comparedFields.map((f) => f.destination), types: comparedFields.map((f) => f.type) },
    destinationFields,
    destinationCursor,
    destinationCursorType: destinationCursorField.type,
    sourceCursor,
    sourceCursorType: sourceCursorField?.type ?? 'timestamp',
  }
}

/** A destination-shaped row with only the fields a hash or a merge looks at. */
export function comparedValues(row: Row, compared: HashedFields): Row {
  const out: Row = {}
  for (const name of compared.names) out[name] = row[name] ?? null
  return out
}
