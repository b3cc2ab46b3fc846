/**
 * The record mapper: turns the plan's `mapping` into the list of destination
 * fields a sync writes, checks it against both entities once (every problem
 * at once, each with its path), and then maps rows on the hot path.
 */
import { closestName, PlanError, SynclineError, type PlanIssue } from '../errors.js'
import type { SyncPlan } from '../plan/schema.js'
import type { CanonicalType, EntityInfo, FieldInfo, Row, Value } from '../values/canonical.js'
import { autoMap, normalizeFieldName } from './auto-map.js'
import { canConvert, coerceValue } from './coerce.js'
import { constraintCheck } from './field-constraints.js'
import {
  compileTransform,
  transformFieldNodes,
  TransformError,
  TransformSyntaxError,
  type CompiledTransform,
} from './transform/index.js'
import { parseFieldTransform } from './offline-checks.js'
import { fieldHint, unknownField } from './unknown-field.js'

/** One destination field a sync writes. */
export interface MappedField {
  destination: string
  /** The source field copied (directly, or as the transform's implicit argument). */
  source?: string
  /** The transform computing the value, as written in the plan. */
  transform?: string
  /**
   * The canonical type of the values {@link RecordMapper.map} writes here:
   * the destination field's type when the destination exists; otherwise
   * (it will be created) the source field's type, or the transform's result type.
   */
  type: CanonicalType
  /** The type of the value before conversion: the source field's, or the transform's result type. */
  sourceType: CanonicalType
  /** Whether NULL may be written (key fields of a created destination never are). */
  nullable: boolean
  maxLength?: number
  precision?: number
  scale?: number
  /** Width and kind, as {@link FieldInfo} has them, so a created column keeps the source's. */
  bits?: FieldInfo['bits']
  unsigned?: boolean
  jsonText?: boolean
  autoIncrement?: boolean
  /** An array's element type and an enum's (or enum array's) allowed values, so `create: true` keeps them. */
  elementType?: CanonicalType
  enumValues?: string[]
}

/** Maps source rows to destination rows for one sync. */
export interface RecordMapper {
  /** Every destination field written, in order. */
  fields: MappedField[]
  /** Every source field that must be read: keys, mapped sources, transform fields, extra fields. */
  sourceFields: string[]
  /** The destination fields the source keys map to, in key order. */
  destinationKeys: string[]
  /**
   * A destination row (mapped fields only) from a source row. Throws a
   * `RecordError` code `VALUE_REJECTED` or a `TransformError` code
   * `TRANSFORM_FAILED` (both failure `data`) naming the destination field.
   */
  map(row: Row): Row
}

/** What {@link createRecordMapper} needs. */
export interface RecordMapperInput {
  /** The plan's mapping (`{ auto, fields, exclude }`). */
  mapping: SyncPlan['mapping']
  /** Source key fields, in key order. */
  keys: readonly string[]
  source: EntityInfo
  /** Undefined when the destination does not exist yet and will be created. */
  destination?: EntityInfo
  /** Source fields to read without necessarily mapping them (the cursor, the soft-delete field). Not checked here. */
  extraSourceFields?: readonly string[]
  /**
   * How messages name each side, e.g. `{ source: 'shop.items', destination: 'warehouse.items' }`
   * (connection.entity). Default: the entity names, which read alike when both sides use one name.
   */
  labels?: { source: string; destination: string }
}

/**
 * The {@link RecordMapperInput.labels} of a sync: each side as connection.entity.
 * @example sideLabels(sync) // { source: 'shop.items', destination: 'warehouse.public.items' }
 */
export function sideLabels(sync: Pick<SyncPlan, 'source' | 'destination'>): { source: string; destination: string } {
  return { source: `${sync.source.connection}.${sync.source.entity}`, destination: `${sync.destination.connection}.${sync.destination.entity}` }
}

/** One field being planned: where its value comes from and what it must become. */
interface Planned {
  destination: string
  source?: string
  transform?: string
  compiled?: CompiledTransform & { fields: string[] }
  /** The source field, for a direct copy. */
  sourceField?: FieldInfo
  /** The existing destination field, if any. */
  destinationField?: FieldInfo
  /** Index in mapping.fields, for explicit fields. */
  index?: number
}

/** Kinds of canonical type that sort alike; both sides of a key must be of one kind. */
function orderKind(type: CanonicalType): string {
  if (type === 'integer' || type === 'decimal' || type === 'float') return 'number'
  if (type === 'bytes' || type === 'boolean') return type
  return 'text'
}

/**
 * Build the mapper for one sync, checking the mapping against the source
 * entity and, when it exists, the destination entity.
 *
 * Fields: with `mapping.auto` every source field auto-maps ({@link autoMap},
 * minus `exclude`); explicit `mapping.fields` override auto-mapped ones for
 * the same destination, and a plain rename (`{ source: Name, destination:
 * customer_name }`) also stops `Name` from being auto-mapped under its own
 * name. A transform that names no field gets the mapping's `source` as its
 * first argument (`{ source: FullName, transform: "SPLIT(' ', 0)" }`).
 *
 * Throws a {@link PlanError} listing every problem with a path relative to
 * the sync (`mapping.fields[0].source`, `keys[1]`, …). Key fields must map
 * directly (no transform) to a destination field of the same kind of type,
 * because the engine matches both sides in key order.
 */
export function createRecordMapper(input: RecordMapperInput): RecordMapper {
  const { mapping, keys, source, destination } = input
  const issues: PlanIssue[] = []
  const sourceFields = new Map(source.fields.map((f) => [f.name, f]))
  const sourceTypes = new Map(source.fields.map((f) => [f.name, f.type]))
  const destinationFields = destination ? new Map(destination.fields.map((f) => [f.name, f])) : undefined

  keys.forEach((key, i) => {
    if (!sourceFields.has(key)) issues.push({ path: `keys[${i}]`, message: unknownField('key field', key, source) })
  })
  const sourceNormalized = new Set(source.fields.map((f) => normalizeFieldName(f.name)))
  mapping.exclude.forEach((name, i) => {
    if (!sourceNormalized.has(normalizeFieldName(name))) issues.push({ path: `mapping.exclude[${i}]`, message: unknownField('source field', name, source) })
  })

  // Explicit fields, each checked on its own so every problem is reported.
  const explicit: Planned[] = []
  const explicitDestinations = new Map<string, number>()
  // Sources of explicit fields with problems: a key among them is not reported again as unmapped.
  const broken = new Set<string>()
  mapping.fields.forEach((field, index) => {
    const at = `mapping.fields[${index}]`
    const before = issues.length
    const destinationField = destinationFields?.get(field.destination)
    if (destination && !destinationField) {
      issues.push({ path: `${at}.destination`, message: unknownField('destination field', field.destination, destination) })
    }
    const first = explicitDestinations.get(field.destination)
    if (first !== undefined) {
      issues.push({
        path: `${at}.destination`,
        message: `destination field '${field.destination}' is already mapped by mapping.fields[${first}]; map each destination field once`,
      })
    } else {
      explicitDestinations.set(field.destination, index)
    }
    const sourceKnown = field.source === undefined || sourceFields.has(field.source)
    if (!sourceKnown) issues.push({ path: `${at}.source`, message: unknownField('source field', field.source!, source) })
    const planned: Planned = { destination: field.destination, index }
    if (destinationField) planned.destinationField = destinationField
    if (field.source !== undefined) planned.source = field.source
    if (field.transform !== undefined) {
      planned.transform = field.transform
      const compiled = checkTransform(field.transform, field.source, sourceKnown, source, sourceTypes, `${at}.transform`, issues)
      if (compiled) planned.compiled = compiled
    } else if (sourceKnown) {
      planned.sourceField = sourceFields.get(field.source!)!
    }
    if (issues.length === before) explicit.push(planned)
    else if (field.source !== undefined) broken.add(field.source)
  })

  // Auto-mapped fields, minus those an explicit field overrides or renames.
  const renamed = new Set(mapping.fields.filter((f) => f.transform === undefined && f.source !== undefined).map((f) => f.source!))
  const planned: Planned[] = []
  if (mapping.auto) {
    for (const pair of autoMap(source.fields, destination?.fields, { exclude: mapping.exclude })) {
      if (renamed.has(pair.source)) continue
      const field: Planned = { destination: pair.destination, source: pair.source, sourceField: sourceFields.get(pair.source)! }
      const destinationField = destinationFields?.get(pair.destination)
      if (destinationField) field.destinationField = destinationField
      planned.push(field)
    }
  }
  for (const field of explicit) {
    const at = planned.findIndex((p) => p.destination === field.destination)
    if (at >= 0) planned[at] = field
    else planned.push(field)
  }

  // Every value must be convertible to the destination field's type.
  for (const field of planned) {
    const from = field.sourceField?.type ?? field.compiled?.resultType
    const to = field.destinationField?.type
    if (from === undefined || to === undefined || canConvert(from, to)) continue
    const what = field.compiled ? `the transform gives ${from}` : `source field '${field.source}' is ${from}`
    const message = `${what}, but destination field '${field.destination}' is ${to}, and there is no conversion from ${from} to ${to}`
    if (field.index !== undefined) issues.push({ path: `mapping.fields[${field.index}].destination`, message })
    else issues.push({ path: 'mapping.auto', message: `${message}; add '${field.source}' to mapping.exclude or map it with a transform` })
  }

  const destinationKeys = keyDestinations(input, planned, sourceFields, broken, issues)
  if (issues.length > 0) throw new PlanError(issues)

  const fields = planned.map((p) => describeField(p, destination === undefined && destinationKeys.includes(p.destination)))
  const read = new Set<string>([...keys])
  for (const p of planned) {
    if (p.sourceField) read.add(p.sourceField.name)
    for (const name of p.compiled?.fields ?? []) read.add(name)
  }
  for (const name of input.extraSourceFields ?? []) read.add(name)
  // Keys first, then the rest in the source's own field order (a stable, readable SELECT).
  const order = new Map(source.fields.map((f, i) => [f.name, i]))
  const rest = [...read].filter((name) => !keys.includes(name)).sort((a, b) => (order.get(a) ?? Infinity) - (order.get(b) ?? Infinity))
  const writers = planned.map((p, i) => fieldWriter(p, fields[i]!))

  return {
    fields,
    sourceFields: [...keys, ...rest],
    destinationKeys,
    map(row: Row): Row {
      const out: Row = {}
      for (const write of writers) write(row, out)
      return out
    },
  }
}

/** Parse and compile one transform, recording problems at `path`. */
function checkTransform(
  text: string,
  sourceName: string | undefined,
  sourceKnown: boolean,
  source: EntityInfo,
  sourceTypes: ReadonlyMap<string, CanonicalType>,
  path: string,
  issues: PlanIssue[],
): (CompiledTransform & { fields: string[] }) | undefined {
  const expr = parseFieldTransform(text, sourceName, path, issues)
  if (!expr) return undefined
  const nodes = transformFieldNodes(expr)
  const reported = new Set<string>()
  for (const node of nodes) {
    // An unknown `source` is reported at mapping.fields[N].source already.
    if (sourceTypes.has(node.name) || reported.has(node.name) || (!sourceKnown && node.name === sourceName)) continue
    reported.add(node.name)
    const problem = `unknown field '${node.name}' in ${source.name}`
    issues.push({ path, message: new TransformSyntaxError(text, node.position, problem, { hint: fieldHint(node.name, source) }).describe() })
  }
  if (reported.size > 0 || !sourceKnown) return undefined
  try {
    return { ...compileTransform(expr, sourceTypes), fields: [...new Set(nodes.map((n) => n.name))] }
  } catch (error) {
    if (!(error instanceof TransformSyntaxError)) throw error
    issues.push({ path, message: error.describe() })
    return undefined
  }
}

/** The destination field each source key maps to directly, or issues saying why there is none. */
function keyDestinations(
  input: RecordMapperInput,
  planned: readonly Planned[],
  sourceFields: ReadonlyMap<string, FieldInfo>,
  broken: ReadonlySet<string>,
  issues: PlanIssue[],
): string[] {
  const { keys, mapping, destination, source } = input
  const labels = input.labels ?? { source: source.name, destination: destination?.name ?? '' }
  const result: string[] = []
  keys.forEach((key, i) => {
    const field = sourceFields.get(key)
    if (!field || broken.has(key)) return
    const direct = planned.find((p) => p.sourceField?.name === key && p.compiled === undefined)
    if (direct) {
      result.push(direct.destination)
      const to = direct.destinationField?.type
      if (to !== undefined && orderKind(to) !== orderKind(field.type)) {
        issues.push({
          path: `keys[${i}]`,
          message:
            `key field '${key}' is ${field.type} in the source ${labels.source} but destination field '${direct.destination}' is ${to} in the destination ${labels.destination}; ` +
            'both sides must order keys the same way, so give the destination key the same kind of type',
        })
      }
      return
    }
    const why = 'the engine matches source and destination rows by key, in key order'
    const viaTransform = mapping.fields.findIndex((f) => f.transform !== undefined && f.source === key)
    const excluded = mapping.exclude.some((name) => normalizeFieldName(name) === normalizeFieldName(key))
    let message: string
    if (viaTransform >= 0) {
      message = `key field '${key}' is mapped only through a transform (mapping.fields[${viaTransform}]); map key fields directly, without a transform, e.g. { source: ${key}, destination: ${mapping.fields[viaTransform]!.destination} }: ${why}`
    } else if (excluded) {
      message = `key field '${key}' is in mapping.exclude, but key fields must be mapped: ${why}`
    } else {
      const guess = destination ? closestName(key, destination.fields.map((f) => f.name)) : undefined
      const example = `{ source: ${key}, destination: ${guess ?? key} }`
      message = `key field '${key}' is not mapped to any destination field; add ${example} to mapping.fields: ${why}`
    }
    issues.push({ path: `keys[${i}]`, message })
  })
  return result
}

function describeField(p: Planned, createdKey: boolean): MappedField {
  const origin = p.sourceField
  const sourceType = origin?.type ?? p.compiled!.resultType
  const shape: Pick<FieldInfo, 'type' | 'nullable' | 'maxLength' | 'precision' | 'scale' | 'bits' | 'unsigned' | 'jsonText' | 'autoIncrement' | 'elementType' | 'enumValues'> =
    p.destinationField ?? origin ?? { type: sourceType, nullable: true }
  const field: MappedField = { destination: p.destination, type: shape.type, sourceType, nullable: shape.nullable && !createdKey }
  if (p.source !== undefined) field.source = p.source
  if (p.transform !== undefined) field.transform = p.transform
  if (shape.maxLength !== undefined) field.maxLength = shape.maxLength
  if (shape.precision !== undefined) field.precision = shape.precision
  if (shape.scale !== undefined) field.scale = shape.scale
  if (shape.bits !== undefined) field.bits = shape.bits
  if (shape.unsigned !== undefined) field.unsigned = shape.unsigned
  if (shape.jsonText !== undefined) field.jsonText = shape.jsonText
  if (shape.autoIncrement !== undefined) field.autoIncrement = shape.autoIncrement
  if (shape.elementType !== undefined) field.elementType = shape.elementType
  if (shape.enumValues !== undefined) field.enumValues = shape.enumValues
  return field
}

type Writer = (row: Row, out: Row) => void

/** The closure that computes, converts, checks and stores one destination field. */
function fieldWriter(p: Planned, field: MappedField): Writer {
  const name = field.destination
  let read: (row: Row) => Value
  if (p.compiled) {
    const evaluate = p.compiled.evaluate
    read = (row) => {
      try {
        return evaluate(row)
      } catch (error) {
        if (error instanceof SynclineError && error.code === 'TRANSFORM_FAILED') {
          throw new TransformError(`Field '${name}': ${error.message}`, { cause: error, details: { ...error.details, field: name } })
        }
        throw error
      }
    }
  } else {
    const sourceName = p.sourceField!.name
    read = (row) => (Object.hasOwn(row, sourceName) ? (row[sourceName] ?? null) : null)
  }
  const from = field.sourceType
  const to = field.type
  const convert = from === to ? undefined : (value: Value) => coerceValue(value, from, to, name)
  const check = p.destinationField ? constraintCheck(p.destinationField) : undefined
  // Assigning `__proto__` would set the prototype instead of a field.
  const store =
    name === '__proto__'
      ? (out: Row, value: Value) => void Object.defineProperty(out, name, { value, enumerable: true, writable: true, configurable: true })
      : (out: Row, value: Value) => void (out[name] = value)
  return (row, out) => {
    let value = read(row)
    if (convert) value = convert(value)
    if (check) check(value)
    store(out, value)
  }
}
