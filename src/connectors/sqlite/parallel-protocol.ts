/**
 * What the main thread and the worker of a parallel SQLite export
 * (parallel-export.ts, export-worker.ts) say to each other.
 */
import { RecordError, SynclineError, type ErrorCode, type FailureType } from '../../errors.js'
import type { FieldInfo } from '../../values/canonical.js'
import type { MessagePort } from 'node:worker_threads'
import type { RowidSpan } from './export-chunks.js'

/** The worker's job (its `workerData`). */
export interface ExportJob {
  path: string
  busyTimeoutMs: number
  /** The table, its selected columns (quoted SQL) and the name its rowid goes by. */
  table: string
  columns: string
  rowid: string
  /** The entity's name (for error messages) and the exported fields, in column order. */
  entity: string
  fields: FieldInfo[]
  /** Where the worker posts; it listens there for `begin`. */
  port: MessagePort
  /**
   * An Int32Array's memory: [CREDITS] chunks the worker may still post,
   * [CANCEL] nonzero to stop, [POSTED] messages the worker has posted (the
   * main thread waits on it, with no port listener, which would take the
   * messages it reads itself with receiveMessageOnPort).
   */
  control: SharedArrayBuffer
}

export const CREDITS = 0
export const CANCEL = 1
export const POSTED = 2
export const CONTROL_BYTES = 3 * Int32Array.BYTES_PER_ELEMENT

/** From the main thread: take the snapshot now (the write lock is held) and read `span`. */
export interface FromMain {
  type: 'begin'
  span: RowidSpan
}

/** From the worker. `rows`: the rows it has encoded so far (at `done`: all of them). */
export type FromWorker =
  | { type: 'opened' }
  | { type: 'ready' }
  | { type: 'chunk'; bytes: Uint8Array; rows: number }
  | { type: 'done'; rows: number }
  | { type: 'error'; error: SerializedError }

/** An error as it crosses to the other thread (a class does not). */
export interface SerializedError {
  kind: 'record' | 'syncline' | 'other'
  message: string
  code?: ErrorCode
  failure?: FailureType
  details?: Record<string, unknown>
}

export function serializeError(error: unknown): SerializedError {
  if (error instanceof SynclineError) {
    return { kind: error instanceof RecordError ? 'record' : 'syncline', message: error.message, code: error.code, failure: error.failure, ...(error.details ? { details: error.details } : {}) }
  }
  return { kind: 'other', message: error instanceof Error ? error.message : String(error) }
}

/** The error the worker raised, as the same class on this side: a RecordError still sends the engine down the row path. */
export function reviveError(error: SerializedError): Error {
  const options = error.details ? { details: error.details } : {}
  if (error.kind === 'record') return new RecordError(error.code!, error.failure!, error.message, options)
  if (error.kind === 'syncline') return new SynclineError(error.code!, error.failure!, error.message, options)
  return new Error(`The SQLite export's second reader failed: ${error.message}`)
}
