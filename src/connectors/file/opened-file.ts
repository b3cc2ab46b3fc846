/**
 * What both file formats give the connector when a data file is opened:
 * its schema (from the sidecar, or inferred) and its rows as canonical
 * values, streamed in batches, each with the line it starts on.
 */
import type { Row } from '../../values/canonical.js'
import type { FileSchema } from './sidecar.js'

/** A row read from a file, with the (1-based) line its record starts on. */
export interface FileRow {
  line: number
  row: Row
}

/** An opened data file. */
export interface OpenedFile {
  schema: FileSchema
  /** True when the types were inferred from a sample (no sidecar). */
  inferred: boolean
  /** Every row, `batchSize` at a time; call once. The file is closed when it ends or is abandoned. */
  rows(batchSize: number): AsyncGenerator<FileRow[]>
  /** Close the file without reading (further). */
  close(): Promise<void>
}

/**
 * The opened file of a format: the sampled records (already read to infer
 * types) come first, then the rest of `records`, each turned into a row.
 */
export function openedFile<R>(schema: FileSchema, inferred: boolean, sample: R[], records: AsyncGenerator<R>, toRow: (record: R) => FileRow): OpenedFile {
  return {
    schema,
    inferred,
    rows: async function* (batchSize: number) {
      try {
        let batch: FileRow[] = sample.map(toRow)
        sample.length = 0
        for await (const record of records) {
          if (batch.length >= batchSize) {
            yield batch
            batch = []
          }
          batch.push(toRow(record))
        }
        if (batch.length > 0) yield batch
      } finally {
        await records.return(undefined)
      }
    },
    close: async () => {
      await records.return(undefined)
    },
  }
}
