/**
 * Helpers for conformance cases. Fixtures are made through the Connector
 * interface itself (ensureEntity + apply), so every case is dialect-free.
 */
import { afterAll, beforeAll, expect } from 'vitest'
import type { Connector, ScanOptions } from '../../src/connectors/connector.js'
import type { CanonicalType, EntityInfo, FieldInfo, Row, Value } from '../../src/values/canonical.js'
import { valuesEqual } from '../../src/values/compare.js'
import type { ConnectorHarness, OpenedConnector } from './harnesses.js'

/** Open the harness's connector before the file's cases and clean up after; returns a getter. */
export function useConnector(harness: ConnectorHarness): () => Connector {
  const opened = useOpened(harness)
  return () => opened().connector
}

/** Like {@link useConnector}, with the rest of what the harness opened (`staged`, `snapshot`). */
export function useOpened(harness: ConnectorHarness): () => OpenedConnector {
  let opened: OpenedConnector | undefined
  beforeAll(async () => {
    opened = await harness.open()
  })
  afterAll(async () => {
    await opened?.cleanup()
  })
  return () => {
    if (!opened) throw new Error(`the ${harness.kind} harness did not open`)
    return opened
  }
}

/** A field for ensureEntity (nullable unless said otherwise). */
export function field(name: string, type: CanonicalType, extra: Partial<FieldInfo> = {}): FieldInfo {
  return { name, type, nativeType: '', nullable: true, ...extra }
}

/** Create an entity and write rows into it. */
export async function seed(connector: Connector, entity: string, fields: FieldInfo[], keys: string[], rows: Row[]): Promise<void> {
  await connector.ensureEntity(entity, fields, keys)
  if (rows.length > 0) await connector.apply(entity, { upserts: rows, deletes: [] }, { keys })
}

/** Every row of a scan, and the size of each batch it came in. */
export async function scanAll(connector: Connector, entity: string, opts: Omit<ScanOptions, 'batchSize'> & { batchSize?: number }): Promise<{ rows: Row[]; batches: number[] }> {
  const rows: Row[] = []
  const batches: number[] = []
  for await (const batch of connector.scan(entity, { batchSize: 1000, ...opts })) {
    batches.push(batch.length)
    rows.push(...batch)
  }
  return { rows, batches }
}

/** A value printed for a failure message: bigints with `n`, bytes as hex, long text cut. */
export function show(value: Value | undefined): string {
  if (value === undefined) return 'undefined'
  if (typeof value === 'bigint') return `${value}n`
  if (value instanceof Uint8Array) return `<${Buffer.from(value).toString('hex')}>`
  if (typeof value === 'string' && value.length > 80) return JSON.stringify(`${value.slice(0, 80)}…(${value.length} chars)`)
  return JSON.stringify(value)
}

/** Assert rows equal field by field with valuesEqual, in order; lists every difference. */
export function expectRows(fields: readonly FieldInfo[], actual: readonly Row[], expected: readonly Row[]): void {
  const problems: string[] = []
  if (actual.length !== expected.length) problems.push(`expected ${expected.length} rows, got ${actual.length}`)
  for (let i = 0; i < Math.min(actual.length, expected.length); i++) {
    for (const f of fields) {
      const want = expected[i]![f.name] ?? null
      const got = actual[i]![f.name]
      if (got === undefined || !valuesEqual(f.type, want, got)) problems.push(`row ${i} ${f.name} (${f.type}): expected ${show(want)}, got ${show(got)}`)
    }
  }
  expect(problems).toEqual([])
}

/** The entity a listing names, whether the connector qualifies it (`public.x`) or not. */
export function findEntity(entities: readonly EntityInfo[], name: string): EntityInfo | undefined {
  return entities.find((e) => e.name === name || e.name.endsWith(`.${name}`))
}

/** Expect a promise to reject, and return the error for further checks. */
export async function rejection(promise: Promise<unknown>): Promise<Error & { code?: string; failure?: string }> {
  try {
    await promise
  } catch (error) {
    return error as Error & { code?: string; failure?: string }
  }
  throw new Error('expected the call to fail, but it succeeded')
}
