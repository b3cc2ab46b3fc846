/**
 * Conformance: the bulk path. Every connector that declares `bulkExport`
 * streams an entity that every connector declaring `bulkLoad` in a shared
 * format imports back exactly; an import that meets a bad row writes nothing
 * (the engine then falls back to the row path, which reports the record).
 */
import { Readable } from 'node:stream'
import { afterAll, describe, expect, it } from 'vitest'
import type { BulkExport, Connector } from '../../src/connectors/connector.js'
import { COPY_TEXT_FORMAT, encodeCopyText } from '../../src/values/copy-text.js'
import type { Row } from '../../src/values/canonical.js'
import { expectRows, field, rejection, scanAll, seed } from './fixtures.js'
import { HARNESSES, type OpenedConnector } from './harnesses.js'

const FIELDS = [
  field('id', 'integer', { nullable: false }),
  field('name', 'text', { maxLength: 40 }),
  field('amount', 'decimal', { precision: 12, scale: 2 }),
  field('active', 'boolean'),
  field('seen_at', 'timestamp'),
  field('born', 'date'),
]

const ROWS: Row[] = [
  { id: 1, name: 'plain', amount: '10.50', active: true, seen_at: '2026-11-21T10:00:00.123456Z', born: '1990-01-31' },
  { id: 2, name: 'tab\there, new\nline, back\\slash', amount: '-0.01', active: false, seen_at: '1970-01-01T00:00:00.000000Z', born: '2000-02-29' },
  { id: 3, name: 'ünïcödé 🎉 \u00a0', amount: '9999999999.99', active: null, seen_at: null, born: null },
  { id: 4, name: null, amount: null, active: true, seen_at: '2038-01-19T03:14:08.000001Z', born: '1969-12-31' },
  { id: 5, name: '\\N', amount: '0.00', active: false, seen_at: '2026-11-21T10:00:00.000000Z', born: '2026-11-21' },
]

const available = (await Promise.all(HARNESSES.map(async (h) => ((await h.available()) ? h : undefined)))).filter((h) => h !== undefined)

// Opened before the tests are declared, so only the pairs whose flags and
// formats meet get a test (a skipped test asserts nothing).
const opened = new Map<string, OpenedConnector>()
for (const h of available) opened.set(h.kind, await h.open())
/** The connector as the engine gets it (its flags decide the bulk path). */
const engineSide = (kind: string): Connector => {
  const o = opened.get(kind)!
  return o.staged ?? o.connector
}
const sharedFormat = (from: Connector, to: Connector) =>
  from.capabilities.bulkExport && to.capabilities.bulkLoad ? from.bulkFormats?.find((f) => to.bulkFormats?.includes(f)) : undefined

describe('bulk export and import', () => {
  afterAll(async () => {
    for (const o of opened.values()) await o.cleanup()
  })

  it('at least one pair of connectors meets on a bulk format (the cases below are not vacuous)', () => {
    expect(available.some((e) => available.some((i) => sharedFormat(engineSide(e.kind), engineSide(i.kind)) !== undefined))).toBe(true)
  })

  for (const exporter of available) {
    for (const importer of available) {
      const format = sharedFormat(engineSide(exporter.kind), engineSide(importer.kind))
      if (format === undefined) continue
      it(`${exporter.kind} export → ${importer.kind} import round-trips exactly`, async () => {
        const from = engineSide(exporter.kind)
        const to = engineSide(importer.kind)
        const source = opened.get(exporter.kind)!.connector
        const destination = opened.get(importer.kind)!.connector
        if (!(await source.discover('conf_bulk_source')).length) await seed(source, 'conf_bulk_source', FIELDS, ['id'], ROWS)
        const target = `conf_bulk_from_${exporter.kind}`
        await destination.ensureEntity(target, FIELDS, ['id'])
        const exported = await from.bulkExport!('conf_bulk_source', { fields: FIELDS.map((f) => f.name), format })
        expect(exported, `${exporter.kind} exports these fields in ${format}`).toBeDefined()
        try {
          expect(await to.bulkImport!(target, exported!, { columns: FIELDS.map((f) => f.name) })).toBe(ROWS.length)
        } finally {
          await exported!.close()
        }
        const { rows } = await scanAll(destination, target, { fields: FIELDS.map((f) => f.name), keys: ['id'] })
        expectRows(FIELDS, rows, ROWS)
      })
    }

    const importer = engineSide(exporter.kind)
    if (!importer.capabilities.bulkLoad || !importer.bulkFormats?.includes(COPY_TEXT_FORMAT)) continue
    it(`${exporter.kind} import is all or nothing: a bad last row leaves the entity as it was`, async () => {
      const to = engineSide(exporter.kind)
      const destination = opened.get(exporter.kind)!.connector
      await seed(destination, 'conf_bulk_atomic', FIELDS, ['id'], ROWS.slice(0, 1))
      const good = ROWS.slice(1).map((row) => FIELDS.map((f) => encodeCopyText(row[f.name], f)).join('\t'))
      // Longer than name's 40 characters: the destination rejects it after four good rows.
      const bad = FIELDS.map((f) => (f.name === 'name' ? 'x'.repeat(41) : f.name === 'id' ? '99' : '\\N')).join('\t')
      const data: BulkExport = {
        format: COPY_TEXT_FORMAT,
        fields: FIELDS,
        stream: Readable.from([Buffer.from([...good, bad].join('\n') + '\n')]),
        close: async () => undefined,
      }
      const error = await rejection(to.bulkImport!('conf_bulk_atomic', data, { columns: FIELDS.map((f) => f.name) }))
      expect(error.failure).toBe('data')
      const { rows } = await scanAll(destination, 'conf_bulk_atomic', { fields: FIELDS.map((f) => f.name), keys: ['id'] })
      expectRows(FIELDS, rows, ROWS.slice(0, 1))
    })
  }
})
