/**
 * Turns zod's issues into {@link PlanIssue}s a user can act on: the path as
 * `syncs[1].mapping.fields[0].source`, what was found, and what to write instead.
 */
import { z } from 'zod'
import { didYouMean, type PlanIssue } from '../errors.js'
import { formatPath, valueAt, type PathSegment } from './path.js'

type ZodIssue = z.core.$ZodIssue

/** What to write at a path, by path pattern (`[]` for any index, `*` for a connection name). */
const HINTS: Record<string, string> = {
  '': 'a plan is a mapping with connections: and syncs:; `syncline init` writes a commented example',
  state: 'a file path such as .syncline/state.db, or a postgres:// URL',
  connections: 'a mapping of connection names to settings, e.g. shop: { url: sqlite:./shop.db }',
  'connections.*': 'e.g. { url: sqlite:./shop.db }',
  'connections.*.url': 'e.g. sqlite:./shop.db or postgres://user@host:5432/db',
  'connections.*.password': 'e.g. password: ${DB_PASSWORD}, read from the environment',
  feeds: 'a list such as [{ connection: shop, entity: Customer }]',
  'feeds[]': 'e.g. { connection: shop, entity: Customer }',
  feedReplay: 'a duration such as 24h or 30m',
  syncs: 'a list of syncs, each starting with - id: NAME',
  'syncs[]': 'a mapping with id, source and destination',
  'syncs[].id': 'a short name such as customers',
  'syncs[].source': 'e.g. source: { connection: shop, entity: customers }',
  'syncs[].destination': 'e.g. destination: { connection: warehouse, entity: public.customers, create: true }',
  'syncs[].source.connection': 'the name of a connection under connections:',
  'syncs[].destination.connection': 'the name of a connection under connections:',
  'syncs[].source.entity': 'a table name such as customers or public.customers',
  'syncs[].destination.entity': 'a table name such as customers or public.customers',
  'syncs[].source.create': 'true or false',
  'syncs[].destination.create': 'true or false',
  'syncs[].keys': 'a list of field names, e.g. keys: [id]',
  'syncs[].keys[]': 'a field name',
  'syncs[].cursor': 'a field name such as updated_at',
  'syncs[].softDelete': 'a field name such as deleted_at',
  'syncs[].mapping': 'e.g. mapping: { auto: true, fields: [{ source: Name, destination: name }] }',
  'syncs[].mapping.auto': 'true or false',
  'syncs[].mapping.fields': 'a list such as [{ source: Name, destination: name }]',
  'syncs[].mapping.fields[]': 'e.g. { source: Name, destination: name } or { destination: label, transform: "UPPER(Name)" }',
  'syncs[].mapping.fields[].source': 'a source field name',
  'syncs[].mapping.fields[].destination': 'a destination field name',
  'syncs[].mapping.fields[].transform': 'an expression such as "UPPER(Name)"',
  'syncs[].mapping.exclude': 'a list of source field names, e.g. [internal_note]',
  'syncs[].mapping.exclude[]': 'a source field name',
  'syncs[].filters': 'a list such as [{ field: status, op: "=", value: active }]',
  'syncs[].filters[]': 'e.g. { field: status, op: "=", value: active }',
  'syncs[].filters[].field': 'a source field name',
  'syncs[].filters[].value': 'one value (text, number, true/false or null), or a list of them for in / not_in',
  'syncs[].schedule': 'a cron expression such as "*/30 * * * *"',
  'syncs[].timezone': 'an IANA time zone such as Europe/Berlin',
  timezone: 'an IANA time zone such as Europe/Berlin',
  'syncs[].retryDelay': 'a duration such as 1s, 30s or 5m',
  'syncs[].batchSize': 'rows per batch, e.g. 5000',
  'syncs[].lookback': 'a duration such as 60s, 5m, 2h or 1d',
  'syncs[].maxErrors': 'how many rejected records to tolerate, e.g. 0',
  'syncs[].retries': 'how many times to retry a transient failure, e.g. 3',
}

/** Shorthands people write for filter operators. */
const OPERATOR_ALIASES: Record<string, string> = {
  '==': '=',
  eq: '=',
  equals: '=',
  '<>': '!=',
  ne: '!=',
  neq: '!=',
  gt: '>',
  gte: '>=',
  ge: '>=',
  lt: '<',
  lte: '<=',
  le: '<=',
  'not in': 'not_in',
  nin: 'not_in',
  null: 'is_null',
  'is null': 'is_null',
  'not null': 'is_not_null',
  'is not null': 'is_not_null',
}

const EXPECTED_WORDS: Record<string, string> = {
  string: 'text',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
  record: 'a mapping',
  null: 'null',
}

/**
 * Convert zod issues from parsing `input` with `schema` into plan issues.
 * @param schema the schema `input` was parsed with; used to list the settings allowed where an unknown one appears
 */
export function issuesFromZod(issues: readonly ZodIssue[], input: unknown, schema: z.ZodType): PlanIssue[] {
  return issues.flatMap((issue) => convert(issue, issue.path as PathSegment[], input, schema))
}

function convert(issue: ZodIssue, path: PathSegment[], input: unknown, schema: z.ZodType): PlanIssue[] {
  const value = valueAt(input, path)
  const at = (message: string, where: PathSegment[] = path): PlanIssue => ({ path: formatPath(where), message })
  const hint = hintFor(path)

  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => at(unknownSettingMessage(key, path, schema), [...path, key]))
    case 'invalid_type': {
      if (value === undefined) {
        const name = path[path.length - 1]
        return [at(name === undefined ? `the plan is empty; ${hint}` : `'${String(name)}' is required: ${hint}`)]
      }
      const expected = EXPECTED_WORDS[issue.expected] ?? issue.expected
      let fix = hint && hint !== expected ? `; ${hint}` : ''
      if (issue.expected === 'boolean' && typeof value === 'string') fix = `; write true or false (YAML reads ${value} as text)`
      if (issue.expected === 'string' && (typeof value === 'number' || typeof value === 'boolean')) fix = `; write it in quotes: "${value}"`
      if (issue.expected === 'array' && (typeof value === 'string' || typeof value === 'number')) {
        fix = `; write [${value}] for a list of one`
      }
      return [at(`expected ${expected}, found ${describe(value)}${fix}`)]
    }
    case 'invalid_value': {
      const allowed = issue.values.map(String)
      const name = String(path[path.length - 1] ?? 'value')
      const given = String(value)
      const alias = name === 'op' ? OPERATOR_ALIASES[given.trim().toLowerCase()] : undefined
      const suggestion = alias !== undefined ? ` Did you mean '${alias}'?` : didYouMean(given, allowed)
      return [at(`${quoted(value)} is not a valid ${name}.${suggestion} Use one of: ${allowed.join(', ')}`)]
    }
    case 'too_small': {
      if (issue.origin === 'string') return [at(`must not be empty${hint ? `; give ${hint}` : ''}`)]
      if (issue.origin === 'array') {
        const items = Number(issue.minimum) === 1 ? 'one item' : `${issue.minimum} items`
        return [at(`give at least ${items}${hint ? `; ${hint}` : ''}`)]
      }
      return [at(`must be at least ${issue.minimum}, found ${describe(value)}`)]
    }
    case 'too_big':
      if (issue.origin === 'string' || issue.origin === 'array') return [at(`must have at most ${issue.maximum} items`)]
      return [at(`must be at most ${issue.maximum}, found ${describe(value)}`)]
    case 'invalid_format': {
      const name = path[path.length - 1]
      return [at(`${quoted(value)} is not a valid ${typeof name === 'string' ? name : 'value'}: ${issue.message}`)]
    }
    case 'invalid_key': {
      const key = path[path.length - 1]
      const reasons = issue.issues.map((i) => i.message).join('; ')
      const what = path[0] === 'connections' ? 'connection name' : 'name'
      return [at(`${what} '${String(key)}' is not valid: ${reasons}`)]
    }
    case 'invalid_union': {
      // Report the branch that got furthest (past the type check), else the hint.
      const branch = issue.errors.find((errors) => errors.length > 0 && errors.every((e) => e.code !== 'invalid_type'))
      if (branch) return branch.flatMap((e) => convert(e, [...path, ...(e.path as PathSegment[])], input, schema))
      return [at(`${describe(value)} is not allowed here${hint ? `; give ${hint}` : ''}`)]
    }
    case 'custom':
      return [at(issue.message)]
    default:
      return [at(`${issue.message}${hint ? `; give ${hint}` : ''}`)]
  }
}

function unknownSettingMessage(key: string, path: PathSegment[], schema: z.ZodType): string {
  if (/[()'"]/.test(key)) {
    // YAML split an unquoted value at a comma inside { … }, e.g. transform: CONCAT(a, b).
    return `unknown setting '${key}': it looks like the end of a value that contains a comma; put that value in quotes, e.g. transform: "CONCAT(a, b)"`
  }
  const here = objectKeys(schemaAt(schema, path))
  const suggestion = didYouMean(key, here)
  if (suggestion) return `unknown setting '${key}'.${suggestion}`
  // A setting written one level too high or too low, e.g. `create` beside `source`.
  // `create` is allowed on both endpoints by the schema, but means something only on the destination.
  const homes = here.filter((child) => objectKeys(schemaAt(schema, [...path, child])).includes(key) && !(key === 'create' && child === 'source'))
  if (homes.length > 0) {
    const where = homes.map((child) => `'${child}'`).join(' or ')
    return `unknown setting '${key}' here; it belongs inside ${where}, e.g. ${homes[0]}: { …, ${key}: … }`
  }
  const parentPath = enclosingObject(path)
  if (parentPath !== undefined && objectKeys(schemaAt(schema, parentPath)).includes(key)) {
    return `unknown setting '${key}' here; it belongs one level up, in ${formatPath(parentPath) || 'the top level of the plan'}`
  }
  return here.length > 0
    ? `unknown setting '${key}'; remove it, or use one of: ${here.join(', ')}`
    : `unknown setting '${key}'; remove it`
}

/** The path of the object that holds the object at `path` (skipping the list it sits in). */
function enclosingObject(path: readonly PathSegment[]): PathSegment[] | undefined {
  const out = [...path]
  if (typeof out[out.length - 1] === 'number') out.pop()
  if (out.length === 0) return undefined
  out.pop()
  return out
}

/** The path with indices as `[]` and connection names as `*`, for {@link HINTS}. */
function hintFor(path: readonly PathSegment[]): string {
  let pattern = ''
  path.forEach((segment, index) => {
    if (typeof segment === 'number') pattern += '[]'
    else if (index === 1 && path[0] === 'connections') pattern += '.*'
    else pattern += pattern === '' ? segment : `.${segment}`
  })
  return HINTS[pattern] ?? ''
}

/** A value as a user would recognise it in the file. */
export function describe(value: unknown): string {
  if (value === undefined) return 'nothing'
  if (value === null) return 'null (an empty value)'
  if (typeof value === 'string') return `text '${value}'`
  if (typeof value === 'number' || typeof value === 'bigint') return `number ${value}`
  if (typeof value === 'boolean') return `${value}`
  if (Array.isArray(value)) return 'a list'
  return 'a mapping'
}

/** A value as written: strings in quotes, everything else described. */
function quoted(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : describe(value)
}

/** The schema that applies at `path` (through defaults, optionals, arrays and records). */
function schemaAt(root: z.ZodType, path: readonly PathSegment[]): z.ZodType | undefined {
  let current: z.ZodType | undefined = unwrap(root)
  for (const segment of path) {
    if (current instanceof z.ZodObject) current = (current.shape as Record<string, z.ZodType>)[String(segment)]
    else if (current instanceof z.ZodArray) current = current.element as z.ZodType
    else if (current instanceof z.ZodRecord) current = current.valueType as z.ZodType
    else return undefined
    current = current === undefined ? undefined : unwrap(current)
  }
  return current
}

function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema
  for (;;) {
    if (current instanceof z.ZodDefault || current instanceof z.ZodOptional || current instanceof z.ZodNullable) {
      current = current.unwrap() as z.ZodType
    } else if (current instanceof z.ZodPipe) {
      current = current.in as z.ZodType
    } else return current
  }
}

function objectKeys(schema: z.ZodType | undefined): string[] {
  return schema instanceof z.ZodObject ? Object.keys(schema.shape) : []
}

