/**
 * NDJSON files: one JSON object per line (`\n` or `\r\n`), blank lines
 * ignored. How each canonical type is written so it stays exact is in
 * json-values.ts; a NULL field is left out of its line.
 *
 * Lines are parsed by json-line.ts, never by JSON.parse, so numbers keep
 * every digit they were written with.
 */
import type { FieldInfo, Row } from '../../values/canonical.js'
import { fileDataError } from './errors.js'
import { INFERENCE_SAMPLE_ROWS, kindOfToken, TypeInference } from './introspect.js'
import { parseJsonLine, type JsonLine } from './json-line.js'
import { formatJsonValue, parseJsonToken } from './json-values.js'
import { openedFile, type FileRow, type OpenedFile } from './opened-file.js'
import type { FileSchema } from './sidecar.js'
import { decodedChunks, findInvalidUtf8, hexBytes, InvalidUtf8Error } from './utf8.js'

interface NdjsonRecord {
  line: number
  parsed: JsonLine
}

/** The lines of a text stream, without their `\n` / `\r\n`, numbered from 1. */
async function* textLines(chunks: AsyncIterable<string>): AsyncGenerator<{ line: number; text: string }> {
  let line = 1
  let pending = ''
  for await (const chunk of chunks) {
    let text = pending + chunk
    let start = 0
    for (let end = text.indexOf('\n'); end >= 0; end = text.indexOf('\n', start)) {
      yield { line: line++, text: text.slice(start, end > start && text[end - 1] === '\r' ? end - 1 : end) }
      start = end + 1
    }
    pending = text.slice(start)
    text = ''
  }
  if (pending !== '') yield { line, text: pending.endsWith('\r') ? pending.slice(0, -1) : pending }
}

/** Stream the objects of an NDJSON file; errors name the file and the line. */
async function* ndjsonRecords(path: string, signal?: AbortSignal): AsyncGenerator<NdjsonRecord> {
  try {
    for await (const { line, text } of textLines(decodedChunks(path, signal))) {
      if (text.trim() === '') continue
      let parsed: JsonLine
      try {
        parsed = parseJsonLine(text)
      } catch (error) {
        throw fileDataError({ path, line }, `the line is not a JSON object: ${(error as Error).message}`, 'Each line of an NDJSON file holds one JSON object, e.g. {"id": 1, "name": "x"}.', error)
      }
      yield { line, parsed }
    }
  } catch (error) {
    if (error instanceof InvalidUtf8Error) throw await invalidUtf8Error(path)
    throw error
  }
}

/** The error for bytes that are not UTF-8, naming the line and, where the line parses, the field. */
async function invalidUtf8Error(path: string): Promise<Error> {
  const at = await findInvalidUtf8(path)
  let field: string | undefined
  if (at) {
    // Invalid bytes decode to one U+FFFD each, so the valid prefix keeps its length in characters.
    const position = at.bytes.subarray(0, at.offset).toString('utf8').length
    try {
      const { spans } = parseJsonLine(at.bytes.toString('utf8'))
      for (const [name, [start, end]] of spans) if (position >= start && position < end) field = name
    } catch {
      // The line is not JSON either; the line number alone has to do.
    }
  }
  return fileDataError(
    { path, line: at?.line, field },
    at ? `the bytes ${hexBytes(at.bytes, at.offset)} are not valid UTF-8` : 'the file holds bytes that are not valid UTF-8',
    'Save the file as UTF-8; JSON text is always UTF-8 and syncline never guesses an encoding.',
  )
}

/**
 * Open an NDJSON file: take the schema from `sidecar`, or infer it from the
 * first {@link INFERENCE_SAMPLE_ROWS} objects (fields in the order first seen).
 */
export async function openNdjsonFile(path: string, sidecar: FileSchema | undefined, signal?: AbortSignal): Promise<OpenedFile> {
  const records = ndjsonRecords(path, signal)
  const sample: NdjsonRecord[] = []
  let schema: FileSchema
  try {
    if (sidecar) {
      schema = sidecar
    } else {
      const inference = new TypeInference()
      const names: string[] = []
      while (sample.length < INFERENCE_SAMPLE_ROWS) {
        const next = await records.next()
        if (next.done) break
        sample.push(next.value)
        for (const [name, token] of next.value.parsed.entries) {
          if (!names.includes(name)) names.push(name)
          inference.observe(name, kindOfToken(token))
        }
      }
      if (names.length === 0) {
        throw fileDataError({ path }, 'the file holds no fields to infer types from (no objects, or only empty ones)', 'Add a schema file (NAME.schema.json) listing the fields.')
      }
      schema = { fields: inference.fields(names), primaryKey: [] }
    }
  } catch (error) {
    await records.return(undefined)
    throw error
  }
  return openedFile(schema, sidecar === undefined, sample, records, rowReader(path, schema.fields, sidecar === undefined))
}

function rowReader(path: string, fields: readonly FieldInfo[], inferred: boolean): (record: NdjsonRecord) => FileRow {
  const known = new Set(fields.map((f) => f.name))
  return ({ line, parsed }) => {
    for (const name of parsed.entries.keys()) {
      if (known.has(name)) continue
      const why = inferred ? `it first appears after the ${INFERENCE_SAMPLE_ROWS} lines field types are inferred from` : 'its schema file does not list it'
      throw fileDataError({ path, line, field: name }, `the object has a field '${name}', but ${why}`, 'List the field in the schema file (NAME.schema.json), or remove it from the line.')
    }
    const row: Row = {}
    for (const field of fields) {
      const token = parsed.entries.get(field.name)
      let value
      try {
        value = token === undefined ? null : parseJsonToken(token, field.type, !inferred)
      } catch (error) {
        const fix = inferred
          ? `Types of a file without a schema file are inferred from its first ${INFERENCE_SAMPLE_ROWS} lines, which made it ${field.type}; add a schema file (NAME.schema.json) typing the field.`
          : 'Fix the value, or the field type in the schema file.'
        throw fileDataError({ path, line, field: field.name }, (error as Error).message, fix, error)
      }
      if (value === null && !field.nullable) {
        throw fileDataError({ path, line, field: field.name }, 'the field is missing or null, but the schema file says it is not nullable', 'Give it a value, or make the field nullable in the schema file.')
      }
      row[field.name] = value
    }
    return { line, row }
  }
}

/** NDJSON text for rows: one object per line, fields in schema order, NULL fields left out. */
export function ndjsonText(fields: readonly FieldInfo[], rows: readonly Row[]): string {
  const names = fields.map((f) => JSON.stringify(f.name))
  let out = ''
  for (const row of rows) {
    let line = ''
    for (let i = 0; i < fields.length; i++) {
      const field = fields[i]!
      const value = row[field.name] ?? null
      if (value === null) continue
      line += `${line === '' ? '{' : ','}${names[i]}:${formatJsonValue(value, field.type, field.scale)}`
    }
    out += line === '' ? '{}\n' : `${line}}\n`
  }
  return out
}
