/**
 * The sidecar schema written beside every file syncline writes
 * (`customers.csv` → `customers.schema.json`): the fields with their
 * canonical types and limits, the primary key, and the order rows are in.
 *
 * ```json
 * { "fields": [{ "name": "id", "type": "integer", "nativeType": "integer", "nullable": false }],
 *   "primaryKey": ["id"], "sortedBy": ["id"] }
 * ```
 * CSV holds only text, so without it a reader could not tell the integer 1
 * from the text "1", a date from text that looks like one, or bytes from
 * base64 text. A file without one has its types inferred (introspect.ts).
 */
import { readFileSync } from 'node:fs'
import { z } from 'zod'
import { SynclineError } from '../../errors.js'
import { CANONICAL_TYPES, type FieldInfo } from '../../values/canonical.js'

/** What a sidecar holds. */
export interface FileSchema {
  fields: FieldInfo[]
  primaryKey: string[]
  /** Key fields the rows are sorted by (absent: file order). */
  sortedBy?: string[]
}

const fieldSchema = z.object({
  name: z.string(),
  type: z.enum(CANONICAL_TYPES),
  nativeType: z.string().optional(),
  nullable: z.boolean().default(true),
  maxLength: z.number().int().positive().optional(),
  precision: z.number().int().positive().optional(),
  scale: z.number().int().optional(),
  elementType: z.enum(CANONICAL_TYPES).optional(),
  enumValues: z.array(z.string()).optional(),
})

const sidecarSchema = z.object({
  fields: z.array(fieldSchema),
  primaryKey: z.array(z.string()).default([]),
  sortedBy: z.array(z.string()).optional(),
})

/**
 * The native type a file field reports: its canonical type with its limits,
 * `decimal(38,10)`, `text(255)`, `integer`.
 */
export function nativeTypeOf(field: Pick<FieldInfo, 'type' | 'maxLength' | 'precision' | 'scale' | 'elementType'>): string {
  if (field.type === 'array') return `${field.elementType ?? 'text'}[]`
  if (field.type === 'text' && field.maxLength !== undefined) return `text(${field.maxLength})`
  if (field.type === 'decimal' && field.precision !== undefined) return `decimal(${field.precision}${field.scale === undefined ? '' : `,${field.scale}`})`
  return field.type
}

/** A field as a file keeps it: only what the file can promise, with its file native type. */
export function fileField(field: FieldInfo): FieldInfo {
  const out: FieldInfo = { name: field.name, type: field.type, nativeType: '', nullable: field.nullable }
  if (field.type === 'text' && field.maxLength !== undefined) out.maxLength = field.maxLength
  if (field.type === 'decimal' && field.precision !== undefined) {
    out.precision = field.precision
    if (field.scale !== undefined) out.scale = field.scale
  }
  // Arrays and enums keep their element type and allowed values, so a round trip through a file restores them.
  if (field.type === 'array') out.elementType = field.elementType ?? 'text'
  if ((field.type === 'enum' || field.type === 'array') && field.enumValues) out.enumValues = [...field.enumValues]
  out.nativeType = nativeTypeOf(out)
  return out
}

/**
 * Read and check a sidecar; a malformed one is a config error naming the
 * file and the problem.
 */
export function readSidecar(path: string): FileSchema {
  let parsed: unknown
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'))
  } catch (error) {
    throw sidecarError(path, `is not valid JSON (${(error as Error).message})`)
  }
  const result = sidecarSchema.safeParse(parsed)
  if (!result.success) {
    const issue = result.error.issues[0]
    throw sidecarError(path, `does not describe a schema: ${issue ? `${issue.path.join('.') || '(top)'}: ${issue.message}` : result.error.message}`)
  }
  const fields = result.data.fields.map((f) => fileField({ ...f, nativeType: f.nativeType ?? '' }))
  const names = new Set<string>()
  for (const field of fields) {
    if (names.has(field.name)) throw sidecarError(path, `lists the field '${field.name}' twice`)
    names.add(field.name)
  }
  for (const key of [...result.data.primaryKey, ...(result.data.sortedBy ?? [])]) {
    if (!names.has(key)) throw sidecarError(path, `names the key field '${key}', which is not among its fields`)
  }
  const schema: FileSchema = { fields, primaryKey: result.data.primaryKey }
  if (result.data.sortedBy) schema.sortedBy = result.data.sortedBy
  return schema
}

/** The sidecar's text: stable (same schema, same bytes), one field per line for readable diffs. */
export function sidecarText(schema: FileSchema): string {
  const fields = schema.fields.map((f) => `    ${JSON.stringify(fileField(f))}`).join(',\n')
  const tail = [`  "primaryKey": ${JSON.stringify(schema.primaryKey)}`]
  if (schema.sortedBy) tail.push(`  "sortedBy": ${JSON.stringify(schema.sortedBy)}`)
  return `{\n  "fields": [\n${fields}\n  ],\n${tail.join(',\n')}\n}\n`
}

function sidecarError(path: string, problem: string): SynclineError {
  return new SynclineError('PLAN_INVALID', 'config', `The schema file ${path} ${problem}. Fix it, or delete it to have the types inferred from the data.`, {
    details: { path },
  })
}
