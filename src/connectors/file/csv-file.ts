/**
 * CSV files (RFC 4180): a header row, `"` quotes with `""` inside them,
 * line breaks inside quoted values, a configurable one-character delimiter,
 * `\n` or `\r\n` line ends (syncline writes `\n`).
 *
 * NULL and the empty string differ: an unquoted empty value (`a,,b`) is
 * NULL, a quoted one (`a,"",b`) is the empty string. Everything else is
 * text in the canonical form of its type (codec.ts), typed by the
 * sidecar schema or inferred (introspect.ts).
 *
 * Reading streams the file through csv-parse, which reports a ragged row or
 * an unterminated quote; the line reported is the one the record starts on,
 * counted here because csv-parse counts `\r\n` inside quotes as two lines.
 */
import { CsvError, parse, type Options as ParseOptions } from 'csv-parse'
import { stringify } from 'csv-stringify/sync'
import { createReadStream } from 'node:fs'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { FieldInfo, Row } from '../../values/canonical.js'
import { fileDataError } from './errors.js'
import { INFERENCE_SAMPLE_ROWS, kindOfText, TypeInference } from './introspect.js'
import { openedFile, type FileRow, type OpenedFile } from './opened-file.js'
import type { FileSchema } from './sidecar.js'
import { formatText, parseText } from './codec.js'
import { decodedChunks, findInvalidUtf8, hexBytes, InvalidUtf8Error } from './utf8.js'

/** One CSV record: the line it starts on and its cells (null: an unquoted empty value). */
interface CsvRecord {
  line: number
  cells: (string | null)[]
}

/**
 * Line breaks a record's raw text spans. csv-parse may cut the raw text of
 * a record after the first character of its delimiter, so a record ended
 * by `\r\n` can end in a bare `\r` there (checked by the tests).
 */
function lineBreaks(raw: string): number {
  let count = raw.endsWith('\r') ? 1 : 0
  for (let i = raw.indexOf('\n'); i >= 0; i = raw.indexOf('\n', i + 1)) count++
  return count
}

/**
 * csv-parse options. No `cast`: it would tell quoted from unquoted values,
 * but makes parsing ten times slower, so {@link withNulls} reads that from
 * the raw text instead.
 */
function parserOptions(delimiter: string, extra: Partial<ParseOptions> = {}): ParseOptions {
  return {
    delimiter,
    record_delimiter: ['\r\n', '\n'],
    raw: true,
    // Every record must have as many values as the header (a ragged row is an error).
    relax_column_count: false,
    ...extra,
  }
}

/** The parsed cells with NULL for each unquoted empty value (a quoted one, `""`, is the empty string). */
function withNulls(cells: string[], raw: string, delimiter: string): (string | null)[] {
  if (!cells.includes('')) return cells
  // Without two quotes in a row no empty value can be quoted.
  if (!raw.includes('""')) return cells.map((c) => (c === '' ? null : c))
  const quoted = quotedFields(raw, delimiter, cells.length)
  return cells.map((c, i) => (c === '' && !quoted[i] ? null : c))
}

/** Which fields of a well-formed record's raw text are quoted. */
function quotedFields(raw: string, delimiter: string, count: number): boolean[] {
  const quoted: boolean[] = []
  let i = 0
  while (quoted.length < count) {
    const isQuoted = raw[i] === '"'
    quoted.push(isQuoted)
    if (isQuoted) {
      // Past the closing quote; `""` inside is an escaped quote.
      for (i++; i < raw.length; i++) {
        if (raw[i] !== '"') continue
        if (raw[i + 1] === '"') i++
        else break
      }
    }
    const next = raw.indexOf(delimiter, i + (isQuoted ? 1 : 0))
    if (next < 0) break
    i = next + delimiter.length
  }
  return quoted
}

/** Stream the records of a CSV file; errors name the file and the line. */
async function* csvRecords(path: string, delimiter: string, signal?: AbortSignal): AsyncGenerator<CsvRecord> {
  let line = 1
  let columns: number | undefined
  const parser = parse(parserOptions(delimiter))
  const source = Readable.from(decodedChunks(path, signal))
  // Errors of either stream surface through the iteration below.
  pipeline(source, parser).catch(() => undefined)
  try {
    for await (const { record, raw } of parser as AsyncIterable<{ record: string[]; raw: string }>) {
      columns ??= record.length
      yield { line, cells: withNulls(record, raw, delimiter) }
      line += lineBreaks(raw)
    }
  } catch (error) {
    throw await readError(error, path, delimiter, columns)
  } finally {
    source.destroy()
    parser.destroy()
  }
}

/**
 * The line the record csv-parse failed on starts at. Records parsed before
 * an error may not have reached the reader, so the file is parsed again,
 * counting lines as each record is parsed.
 */
async function failingLine(path: string, delimiter: string): Promise<{ line: number; columns?: number } | undefined> {
  let next = 1
  let columns: number | undefined
  const parser = parse(
    parserOptions(delimiter, {
      on_record: (parsed: unknown) => {
        const { record, raw } = parsed as { record: string[]; raw: string }
        columns ??= record.length
        next += lineBreaks(raw)
        return null
      },
    }),
  )
  parser.resume()
  const failed = await pipeline(createReadStream(path, { encoding: 'utf8' }), parser).then(
    () => false,
    () => true,
  )
  return failed ? { line: next, columns } : undefined
}

async function readError(error: unknown, path: string, delimiter: string, columns: number | undefined): Promise<unknown> {
  if (error instanceof InvalidUtf8Error) return invalidUtf8Error(path, delimiter)
  if (!(error instanceof CsvError)) return error
  const failed = await failingLine(path, delimiter)
  const line = failed?.line ?? (typeof error.lines === 'number' ? error.lines : undefined)
  columns ??= failed?.columns
  const shown = delimiter === '\t' ? 'tab' : `'${delimiter}'`
  switch (error.code) {
    case 'CSV_RECORD_INCONSISTENT_FIELDS_LENGTH': {
      const got = Array.isArray(error.record) ? error.record.length : undefined
      return fileDataError(
        { path, line },
        `the record has ${got ?? 'a different number of'} value(s) but the header has ${columns ?? 'another number'}`,
        `Give every record one value per header column; quote values that hold the delimiter (${shown}) or a line break, e.g. "a${delimiter === '\t' ? '\t' : delimiter}b".`,
        error,
      )
    }
    case 'CSV_QUOTE_NOT_CLOSED':
      return fileDataError({ path, line }, 'a quoted value that starts in this record is never closed', 'Close the quote; inside a quoted value write a quote as two ("").', error)
    case 'CSV_INVALID_CLOSING_QUOTE':
      return fileDataError({ path, line }, 'text follows the closing quote of a value', `Quote the whole value, write quotes inside it as two (""), and follow it with the delimiter (${shown}) or a line break.`, error)
    case 'INVALID_OPENING_QUOTE':
      return fileDataError({ path, line }, 'an unquoted value contains a quote', 'Quote the whole value and write each quote inside it as two (""), e.g. "say ""hi""".', error)
    default:
      return fileDataError({ path, line }, `the CSV cannot be read: ${error.message}`, 'Fix the file so that it is RFC 4180 CSV with a header row.', error)
  }
}

/** The error for bytes that are not UTF-8, naming the line and the field they are in. */
async function invalidUtf8Error(path: string, delimiter: string): Promise<Error> {
  const at = await findInvalidUtf8(path)
  const field = at ? await fieldOnLine(path, delimiter, at.line) : undefined
  return fileDataError(
    { path, line: at?.line, field },
    at ? `the bytes ${hexBytes(at.bytes, at.offset)} are not valid UTF-8` : 'the file holds bytes that are not valid UTF-8',
    'Save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8 in.csv > out.csv); syncline never guesses an encoding.',
  )
}

/**
 * The field of the record covering physical line `line` that holds an
 * invalid byte: the file is read again with invalid bytes decoded as U+FFFD.
 */
async function fieldOnLine(path: string, delimiter: string, line: number): Promise<string | undefined> {
  let next = 1
  let header: string[] | undefined
  let found: string | undefined
  const parser = parse(
    parserOptions(delimiter, {
      on_record: (parsed: unknown) => {
        const { record, raw } = parsed as { record: string[]; raw: string }
        const start = next
        next += lineBreaks(raw)
        if (found === undefined && line >= start && (line < next || next === start)) {
          const index = record.findIndex((c) => c.includes('\uFFFD'))
          found = header === undefined ? '(the header row)' : index >= 0 ? (header[index] ?? `column ${index + 1}`) : undefined
        }
        header ??= record
        return null
      },
    }),
  )
  parser.resume()
  await pipeline(createReadStream(path, { encoding: 'utf8' }), parser).catch(() => undefined)
  return found
}

/** The header's field names: every column named, no name twice. */
function headerNames(cells: (string | null)[], path: string): string[] {
  const seen = new Set<string>()
  return cells.map((cell, i) => {
    if (cell === null || cell === '') throw fileDataError({ path, line: 1 }, `column ${i + 1} of the header row has no name`, 'Give every column a name in the header row.')
    if (seen.has(cell)) throw fileDataError({ path, line: 1 }, `the header names the column '${cell}' twice`, 'Give every column its own name.')
    seen.add(cell)
    return cell
  })
}

/** The sidecar field of each header column; the header must name exactly the sidecar's fields. */
function columnsFromSidecar(names: readonly string[], schema: FileSchema, path: string): FieldInfo[] {
  const byName = new Map(schema.fields.map((f) => [f.name, f]))
  const columns = names.map((name) => {
    const field = byName.get(name)
    if (!field) throw fileDataError({ path, line: 1 }, `the header has a column '${name}' that its schema file does not list`, 'Add the field to the schema file (NAME.schema.json), or remove the column.')
    return field
  })
  const missing = schema.fields.find((f) => !names.includes(f.name))
  if (missing) throw fileDataError({ path, line: 1 }, `the header has no column '${missing.name}', which its schema file lists`, 'Add the column, or remove the field from the schema file.')
  return columns
}

/**
 * Open a CSV file: read the header, take the schema from `sidecar` or infer
 * it from the first {@link INFERENCE_SAMPLE_ROWS} records, and stream rows.
 * An empty file (no header) with a sidecar has no rows; without one it is an error.
 */
export async function openCsvFile(path: string, delimiter: string, sidecar: FileSchema | undefined, signal?: AbortSignal): Promise<OpenedFile> {
  const records = csvRecords(path, delimiter, signal)
  const first = await records.next()
  if (first.done) {
    if (!sidecar) throw fileDataError({ path, line: 1 }, 'the file is empty: it has no header row', 'Write a header row naming the fields, or add a schema file (NAME.schema.json).')
    return { schema: sidecar, inferred: false, rows: async function* () {}, close: async () => undefined }
  }
  let names: string[]
  try {
    names = headerNames(first.value.cells, path)
  } catch (error) {
    await records.return(undefined)
    throw error
  }
  const sample: CsvRecord[] = []
  let schema: FileSchema
  let columns: FieldInfo[]
  try {
    if (sidecar) {
      schema = sidecar
      columns = columnsFromSidecar(names, sidecar, path)
    } else {
      const inference = new TypeInference()
      for (const name of names) inference.observe(name, undefined)
      while (sample.length < INFERENCE_SAMPLE_ROWS) {
        const next = await records.next()
        if (next.done) break
        sample.push(next.value)
        next.value.cells.forEach((cell, i) => {
          if (cell !== null) inference.observe(names[i]!, kindOfText(cell))
        })
      }
      schema = { fields: inference.fields(names), primaryKey: [] }
      columns = schema.fields
    }
  } catch (error) {
    await records.return(undefined)
    throw error
  }
  return openedFile(schema, sidecar === undefined, sample, records, rowReader(path, columns, sidecar === undefined))
}

/** Turns records into canonical rows; a value that does not parse names its line and field. */
function rowReader(path: string, columns: readonly FieldInfo[], inferred: boolean): (record: CsvRecord) => FileRow {
  return ({ line, cells }) => {
    const row: Row = {}
    for (let i = 0; i < columns.length; i++) {
      const field = columns[i]!
      const cell = cells[i] ?? null
      if (cell === null) {
        if (!field.nullable) {
          throw fileDataError({ path, line, field: field.name }, 'the value is empty (NULL), but the schema file says the field is not nullable', 'Give it a value (write "" for an empty string), or make the field nullable in the schema file.')
        }
        row[field.name] = null
        continue
      }
      try {
        row[field.name] = parseText(cell, field.type)
      } catch (error) {
        const fix = inferred
          ? `Types of a file without a schema file are inferred from its first ${INFERENCE_SAMPLE_ROWS} rows, which made it ${field.type}; add a schema file (NAME.schema.json) typing the field.`
          : 'Fix the value, or the field type in the schema file.'
        throw fileDataError({ path, line, field: field.name }, (error as Error).message, fix, error)
      }
    }
    return { line, row }
  }
}

/** Empty strings quoted (`""`), NULL left empty: the one difference CSV can make between them. */
const CAST = { string: (value: string) => (value === '' ? { value, quoted_empty: true } : value) }

/**
 * CSV text for rows (with the header row first when `header`), values in
 * canonical text form, `\n` line ends.
 */
export function csvText(fields: readonly FieldInfo[], rows: readonly Row[], delimiter: string, header: boolean): string {
  const records: (string | null)[][] = header ? [fields.map((f) => f.name)] : []
  for (const row of rows) {
    records.push(
      fields.map((f) => {
        const value = row[f.name] ?? null
        return value === null ? null : formatText(value, f.type, f.scale)
      }),
    )
  }
  return records.length === 0 ? '' : stringify(records, { delimiter, record_delimiter: '\n', cast: CAST, escape_formulas: false })
}
