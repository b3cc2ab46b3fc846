/**
 * The two file formats behind one shape: open a file for reading, turn rows
 * into file text.
 */
import type { FieldInfo, Row } from '../../values/canonical.js'
import { csvText, openCsvFile } from './csv-file.js'
import type { FileLocation } from './location.js'
import { ndjsonText, openNdjsonFile } from './ndjson-file.js'
import type { OpenedFile } from './opened-file.js'
import type { FileSchema } from './sidecar.js'

/** Reading and writing one format. */
export interface FileFormat {
  /** `CSV` or `NDJSON`, for messages. */
  label: string
  open(path: string, sidecar: FileSchema | undefined, signal?: AbortSignal): Promise<OpenedFile>
  /** The file's first text (the CSV header row), even for no rows. */
  header(fields: readonly FieldInfo[]): string
  /** Text for a batch of rows. */
  rows(fields: readonly FieldInfo[], rows: readonly Row[]): string
}

/** The format of a location. */
export function formatOf(location: FileLocation): FileFormat {
  if (location.kind === 'csv') {
    const { delimiter } = location
    return {
      label: 'CSV',
      open: (path, sidecar, signal) => openCsvFile(path, delimiter, sidecar, signal),
      header: (fields) => csvText(fields, [], delimiter, true),
      rows: (fields, rows) => csvText(fields, rows, delimiter, false),
    }
  }
  return {
    label: 'NDJSON',
    open: (path, sidecar, signal) => openNdjsonFile(path, sidecar, signal),
    header: () => '',
    rows: (fields, rows) => ndjsonText(fields, rows),
  }
}
