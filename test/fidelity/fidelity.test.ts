/**
 * Cross-database fidelity (issue 3): a table holding edge values of every
 * canonical type travels through every ordered pair of connector kinds with
 * the real engine — A → B (`create: true`, full sync), then B → a fresh
 * entity in A — and comes back identical: equal per field type
 * (valuesEqual), in its canonical representation, with the same canonical
 * field types. An idle re-run of each leg finds every row unchanged, which
 * proves each destination holds exactly the values it was sent.
 *
 * The source fixture is written through each kind's connector (ensureEntity
 * + apply of canonical values), so it is the same everywhere. Natively, as
 * other tools would write them, come two more rows (timestamps with UTC
 * offsets where the kind stores one, JSON spelled freely) and, in PostgreSQL
 * and MySQL, a single-precision column. One pair per describe, sharing one
 * datasource per kind; each pair writes entities of its own.
 */
import { appendFileSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createConnector } from '../../src/connectors/registry.js'
import type { SyncResult } from '../../src/engine/run-sync.js'
import type { SyncPlanInput } from '../../src/plan/schema.js'
import type { CanonicalType, EntityInfo, FieldInfo, Row, Value } from '../../src/values/canonical.js'
import { canonicalJson } from '../../src/values/json.js'
import { expectRows, field, show } from '../conformance/fixtures.js'
import { openDatasource, type DatasourceKind, type TestDatasource } from '../engine/datasources.js'
import { openManager, readAll } from '../engine/sync-harness.js'
import { hasMysql, hasPostgres } from '../helpers/services.js'

const KINDS: readonly DatasourceKind[] = ['sqlite', 'postgres', 'mysql', 'csv', 'ndjson']

/** The source entity in every kind. */
const SOURCE = 'fidelity'

const FIELDS: FieldInfo[] = [
  field('id', 'integer', { nullable: false }),
  field('flag', 'boolean'),
  field('big', 'integer'),
  field('amount', 'decimal', { precision: 38, scale: 10 }),
  field('ratio', 'float'),
  // Values a float32 holds exactly; a native real / FLOAT column in the
  // PostgreSQL and MySQL sources (makeSingleReal), a double elsewhere.
  field('single', 'float'),
  field('label', 'text'),
  field('short', 'text', { maxLength: 255 }),
  field('uid', 'uuid'),
  field('blob', 'bytes'),
  field('at', 'timestamp'),
  field('day', 'date'),
  field('clock', 'time'),
  field('doc', 'json'),
]

/**
 * 100,000 characters (code points) that stress every text path: astral
 * symbols, CJK, accents, and the characters CSV, JSON and SQL quote
 * (quotes, delimiters, CR, LF, tabs, backslashes).
 */
const LONG_TEXT = Array.from({ length: 100_000 }, (_, i) => ['a', 'é', '中', '😀', '\n', '"', ',', '\r', '\t', '\\', "'"][i % 11]).join('')

/*
 * Values deliberately left out, each because a datasource cannot hold it:
 * - NaN, Infinity, -Infinity (floats): MySQL/MariaDB DOUBLE has no NaN and
 *   no infinities (it refuses them), so they cannot travel through every pair.
 * - U+0000 in text: PostgreSQL text and varchar cannot store a NUL
 *   character (invalid byte sequence 0x00); zero bytes are covered by bytes.
 * - \u0000 inside JSON strings: PostgreSQL jsonb refuses it (the same reason).
 * - Offsets in timestamps are only written where the kind stores one (see
 *   insertNativeRows; not MySQL): canonical timestamps are UTC instants, so
 *   the offset itself is not a value that travels, only the instant it names.
 */
const ROWS: Row[] = [
  {
    // The smallest values: the keys also test key order with extreme integers.
    id: -(2n ** 63n),
    flag: false,
    big: -(2n ** 63n),
    amount: '-9999999999999999999999999999.9999999999',
    ratio: -1.7976931348623157e308,
    single: -3.4028234663852886e38,
    label: '',
    short: '',
    uid: '00000000-0000-0000-0000-000000000000',
    blob: new Uint8Array([]),
    at: '1900-01-01T00:00:00.000000Z',
    day: '1900-01-01',
    clock: '00:00:00',
    doc: '[]',
  },
  {
    id: -(2n ** 53n + 1n),
    flag: true,
    big: -(2n ** 53n + 1n),
    amount: '-1234567890123456789012345678.9012345678',
    ratio: -2.2250738585072014e-308,
    single: 1.401298464324817e-45,
    // Combining marks (decomposed é next to the precomposed one, Devanagari
    // conjunct, stacked marks) and right-to-left text with direction marks.
    label: 'e\u0301 \u00e9 a\u0308 n\u0303 \u0915\u094d\u0937 Z\u0351\u0352\u0353\u0354 \u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd',
    short: 'שלום עולם مرحبا بالعالم \u200f\u202bembedded\u202c \u200e(1) ١٢٣',
    uid: '123e4567-e89b-12d3-a456-426614174000',
    blob: new Uint8Array([0, 0, 0]),
    at: '1969-12-31T23:59:59.999999Z',
    day: '1970-01-01',
    clock: '00:00:00.000001',
    doc: '{"a":[{"b":{"c":[{"d":null}]}},{"e":[[],{}]}],"z":[1,-2,3.5]}',
  },
  {
    // Text that quoting and NULL markers trip over.
    id: -1,
    flag: false,
    big: -9007199254740991,
    amount: '-0.0000000001',
    ratio: 0.30000000000000004,
    single: 0.10000000149011612,
    // Also other line and control characters: U+2028/2029, NEL, BOM, C0 controls, DEL.
    label: 'tab\there\nnew line\r\nCRLF\rlone CR "double" \'single\' back\\slash \\\\ \u2028\u2029\u0085\ufeff\u0001\u001b\u007f end\\',
    short: '\\N',
    uid: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
    blob: new Uint8Array([0]),
    at: '1970-01-01T00:00:00.000001Z',
    day: '2000-02-29',
    clock: '12:34:56.500000',
    doc: '"\\"quoted\\" back\\\\slash\\ttab\\nnewline\\r\\u0001"',
  },
  // NULL in every nullable column.
  { id: 0, flag: null, big: null, amount: null, ratio: null, single: null, label: null, short: null, uid: null, blob: null, at: null, day: null, clock: null, doc: null },
  {
    // Emoji: skin tones, ZWJ families and professions, flags, variation selectors.
    id: 1,
    flag: true,
    big: 0,
    amount: '0',
    ratio: 0,
    single: 16777216,
    label: '👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 👩🏾‍💻 🇺🇦 ❤️ ✔︎ 😀',
    short: '😀'.repeat(255),
    uid: 'ffffffff-ffff-ffff-ffff-ffffffffffff',
    blob: new Uint8Array([0xff]),
    at: '2026-11-21T10:00:00.123456Z',
    day: '2026-11-21',
    clock: '12:00:00',
    doc: '{"emoji":"👨‍👩‍👧 😀","rtl":"שלום","ü":"é\u0301","中文":["a","b"]}',
  },
  {
    id: 2,
    flag: false,
    big: 1,
    amount: '0.0000000001',
    ratio: 2.2250738585072014e-308,
    single: 3.140000104904175,
    label: 'NULL',
    short: ' ',
    uid: 'c9bf9e57-1685-4c89-bafb-ff5af830be8a',
    blob: new Uint8Array([0, 0xff, 0, 0xff, 0]),
    at: '2000-02-29T12:00:00.000000Z',
    day: '1999-12-31',
    clock: '23:59:59',
    // Big integers and long fractions in JSON keep their digits.
    doc: '{"big":12345678901234567890123,"fraction":0.1000000000000000055511151231257827,"int64max":9223372036854775807,"neg":-9223372036854775809}',
  },
  {
    id: 2n ** 53n + 1n,
    flag: true,
    big: 2n ** 53n + 1n,
    amount: '1234567890123456789012345678.9012345678',
    ratio: 5e-324,
    single: 1.1754943508222875e-38,
    label: '"",,\'\'',
    short: ',"',
    uid: '00000000-0000-4000-8000-000000000001',
    blob: Uint8Array.from({ length: 256 }, (_, i) => i),
    at: '2038-01-19T03:14:08.000001Z',
    day: '2038-01-19',
    clock: '03:14:07.999999',
    doc: '[{"a":1},{"a":[{"b":2}]},"x",null,true,false,-0.5]',
  },
  {
    // The largest values, and the 100,000-character text.
    id: 2n ** 63n - 1n,
    flag: true,
    big: 2n ** 63n - 1n,
    amount: '9999999999999999999999999999.9999999999',
    ratio: 1.7976931348623157e308,
    single: 3.4028234663852886e38,
    label: LONG_TEXT,
    short: 'x'.repeat(255),
    uid: 'fedcba98-7654-3210-fedc-ba9876543210',
    blob: new Uint8Array([0xff, 0, 0xff]),
    at: '2099-12-31T23:59:59.999999Z',
    day: '2099-12-31',
    clock: '23:59:59.999999',
    doc: '{"deep":[[[[[[{"k":[{"l":"m"}]}]]]]]],"n":1}',
  },
]

/**
 * The edge rows again (all but the 100,000-character one) under other keys,
 * enough that a first copy also takes the destinations' bulk write paths
 * (PostgreSQL COPY from 2,000 new rows in a batch), which quote and escape
 * values their own way.
 */
const FILLER_ROWS: Row[] = Array.from({ length: 2_000 }, (_, i) => ({ ...ROWS[i % (ROWS.length - 1)]!, id: 1_000 + i }))

/**
 * Rows written natively, the way another tool would write them, with the
 * canonical values they must read as (the other fields NULL):
 * - timestamps with a UTC offset, where the kind stores one;
 * - JSON as people write it: spaces, unsorted keys, `\u` escapes, and
 *   numbers in exponent form or as -0, which PostgreSQL's jsonb rewrites
 *   (`1e2` → `100`, `-0` → `0`), so canonical JSON must say them the same way.
 */
const NATIVE_ROWS: { id: number; written: string; at: string; docText: string; doc: string }[] = [
  {
    id: 6,
    written: '2026-03-01 12:34:56.123456+05:30',
    at: '2026-03-01T07:04:56.123456Z',
    docText: '{ "z" : [1e2, -0, 1.5E-3, -0.0, 2.50e1], "a": "\\u00e9\\ud83d\\ude00 \\"q\\"" }',
    doc: '{"a":"é😀 \\"q\\"","z":[100,0,0.0015,0.0,25.0]}',
  },
  {
    // A negative offset that crosses into the next day and year.
    id: 7,
    written: '2026-12-31 23:30:00.5-08:00',
    at: '2027-01-01T07:30:00.500000Z',
    docText: '[12345678901234567890123, 1E+2, 0.1e1, {"b": {"d": 1, "c": 2}, "a": []}]',
    doc: '[12345678901234567890123,100,1,{"a":[],"b":{"c":2,"d":1}}]',
  },
]

/** A CSV cell, quoted as RFC 4180 says. */
function csvCell(text: string): string {
  return `"${text.replace(/"/g, '""')}"`
}

/**
 * Write {@link NATIVE_ROWS} natively into `entity`; returns the canonical
 * rows they stand for.
 */
async function insertNativeRows(ds: TestDatasource, entity: string): Promise<Row[]> {
  const nulls = Object.fromEntries(FIELDS.map((f) => [f.name, null])) as Row
  const rows = NATIVE_ROWS.map(({ id, at, doc }) => ({ ...nulls, id, at, doc }))
  // ISO 8601 with a 'T', as files and SQLite hold it.
  const iso = (written: string) => written.replace(' ', 'T')
  switch (ds.kind) {
    case 'postgres':
      // timestamptz: PostgreSQL turns the offset into an instant on input.
      for (const r of NATIVE_ROWS) await ds.exec(`INSERT INTO "${entity}" ("id", "at", "doc") VALUES (?, ?::timestamptz, ?::jsonb)`, [r.id, r.written, r.docText])
      return rows
    case 'sqlite':
      // SQLite keeps the text as written.
      for (const r of NATIVE_ROWS) await ds.exec(`INSERT INTO "${entity}" ("id", "at", "doc") VALUES (?, ?, ?)`, [r.id, iso(r.written), r.docText])
      return rows
    case 'mysql':
      // The offset itself is excluded here: DATETIME(6) (what syncline
      // creates for timestamps, holding UTC) stores no offset, and MariaDB
      // refuses an offset literal for it (ERROR 1292), so the instant is
      // written in UTC.
      for (const r of NATIVE_ROWS) await ds.exec(`INSERT INTO "${entity}" ("id", "at", "doc") VALUES (?, ?, ?)`, [r.id, r.at.replace('T', ' ').replace('Z', ''), r.docText])
      return rows
    case 'csv': {
      // A file another tool wrote: unquoted empty cells are NULL.
      const path = join(ds.dir!, `${entity}.csv`)
      const header = readFileSync(path, 'utf8').split('\n', 1)[0]!.split(',')
      const cell = (r: (typeof NATIVE_ROWS)[number], name: string) => (name === 'id' ? String(r.id) : name === 'at' ? iso(r.written) : name === 'doc' ? csvCell(r.docText) : '')
      for (const r of NATIVE_ROWS) appendFileSync(path, `${header.map((name) => cell(r, name)).join(',')}\n`)
      return rows
    }
    case 'ndjson': {
      // The document itself, as written, is the field's value.
      const path = join(ds.dir!, `${entity}.ndjson`)
      for (const r of NATIVE_ROWS) appendFileSync(path, `{"id": ${r.id}, "at": ${JSON.stringify(iso(r.written))}, "doc": ${r.docText}}\n`)
      return rows
    }
  }
}

/** What a canonical value of `type` must look like in JavaScript (canonical.ts), or a problem. */
function representationProblem(type: CanonicalType, value: Value): string | undefined {
  if (value === null) return undefined
  const string = (pattern: RegExp) => (typeof value === 'string' && pattern.test(value) ? undefined : `not canonical ${type}`)
  switch (type) {
    case 'boolean':
      return typeof value === 'boolean' ? undefined : 'not a boolean'
    case 'integer':
      if (typeof value === 'number') return Number.isSafeInteger(value) ? undefined : 'an unsafe number'
      return typeof value === 'bigint' && (value > BigInt(Number.MAX_SAFE_INTEGER) || value < -BigInt(Number.MAX_SAFE_INTEGER)) ? undefined : 'not a number within 2^53 or a bigint beyond'
    case 'decimal':
      return string(/^-?\d+(\.\d+)?$/)
    case 'float':
      return typeof value === 'number' ? undefined : 'not a number'
    case 'text':
      return typeof value === 'string' ? undefined : 'not a string'
    case 'uuid':
      return string(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
    case 'bytes':
      return value instanceof Uint8Array ? undefined : 'not a Uint8Array'
    case 'timestamp':
      return string(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/)
    case 'date':
      return string(/^\d{4}-\d\d-\d\d$/)
    case 'time':
      return string(/^\d\d:\d\d:\d\d(\.\d{6})?$/)
    case 'json':
      return typeof value === 'string' && canonicalJson(value) === value ? undefined : 'not canonical JSON'
  }
}

/** Assert rows equal the expected ones (valuesEqual per field type) and are in canonical form. */
function expectExact(actual: readonly Row[], expected: readonly Row[]): void {
  expectRows(FIELDS, actual, expected)
  const problems: string[] = []
  for (const row of actual) {
    for (const f of FIELDS) {
      const problem = representationProblem(f.type, row[f.name] ?? null)
      if (problem) problems.push(`id ${show(row.id)} ${f.name}: ${show(row[f.name])} is ${problem}`)
    }
  }
  expect(problems).toEqual([])
}

/** Assert an entity's fields have the original canonical types, field by field. */
function expectTypes(info: EntityInfo): void {
  const types = Object.fromEntries(info.fields.map((f) => [f.name, f.type]))
  expect(types).toEqual(Object.fromEntries(FIELDS.map((f) => [f.name, f.type])))
}

/** The entity as its connector discovers it. */
async function discoverOne(ds: TestDatasource, entity: string): Promise<EntityInfo> {
  const connector = await createConnector({ name: 'discover', url: ds.url })
  try {
    const [info] = await connector.discover(entity)
    if (!info) throw new Error(`${entity} not found in ${ds.kind}`)
    return info
  } finally {
    await connector.close()
  }
}

/** Assert a run succeeded (showing its error if not) with these counts. */
function expectRun(result: SyncResult, counts: Partial<SyncResult>): void {
  expect(result.error, `${result.id} failed`).toBeUndefined()
  expect(result).toMatchObject({ status: 'succeeded', failed: 0, ...counts })
}

/** Key order of the canonical rows (integers, exactly). */
function byId(a: Row, b: Row): number {
  const x = BigInt(a.id as number | bigint)
  const y = BigInt(b.id as number | bigint)
  return x < y ? -1 : x > y ? 1 : 0
}

const reachable: Record<DatasourceKind, boolean> = {
  sqlite: true,
  postgres: await hasPostgres(),
  mysql: await hasMysql(),
  csv: true,
  ndjson: true,
}

/**
 * Write the fixture into `entity` through the kind's connector, then the
 * native rows; returns every row it holds, canonical, in key order.
 */
async function writeFixture(ds: TestDatasource, entity: string, rows: Row[]): Promise<Row[]> {
  const connector = await createConnector({ name: 'fixture', url: ds.url })
  try {
    await connector.ensureEntity(entity, FIELDS, ['id'])
    await connector.apply(entity, { upserts: rows, deletes: [] }, { keys: ['id'] })
    await connector.commit?.(entity)
  } finally {
    await connector.close()
  }
  const real = await makeSingleReal(ds, entity)
  const stored = real ? rows.map((row) => ({ ...row, single: row.single === null ? null : shortestFloat32(row.single as number) })) : rows
  return [...stored, ...(await insertNativeRows(ds, entity))].sort(byId)
}

/**
 * Turn `single` into a native single-precision column where the kind has one
 * (PostgreSQL real, MySQL FLOAT; create: true makes doubles everywhere). Its
 * values are float32-exact, so the change keeps them; returns whether it did.
 */
async function makeSingleReal(ds: TestDatasource, entity: string): Promise<boolean> {
  if (ds.kind === 'postgres') await ds.exec(`ALTER TABLE "${entity}" ALTER COLUMN "single" TYPE real`)
  else if (ds.kind === 'mysql') await ds.exec(`ALTER TABLE "${entity}" MODIFY "single" FLOAT NULL`)
  else return false
  return true
}

/**
 * What a single-precision column reads as (docs/values.md): the double
 * nearest the shortest decimal naming the same float32, so a real holding
 * 0.1f reads 0.1, not 0.10000000149011612.
 */
function shortestFloat32(value: number): number {
  const single = Math.fround(value)
  for (let digits = 1; digits <= 9; digits++) {
    const candidate = Number(single.toPrecision(digits))
    if (Math.fround(candidate) === single) return candidate
  }
  return single
}

/** One shared datasource per kind, with the source fixture, built on first use. */
const sources = new Map<DatasourceKind, Promise<{ ds: TestDatasource; rows: Row[] }>>()

function source(kind: DatasourceKind): Promise<{ ds: TestDatasource; rows: Row[] }> {
  let opened = sources.get(kind)
  if (!opened) {
    opened = (async () => {
      const ds = await openDatasource(kind, 'fidelity')
      return { ds, rows: await writeFixture(ds, SOURCE, [...ROWS, ...FILLER_ROWS]) }
    })()
    sources.set(kind, opened)
  }
  return opened
}

afterAll(async () => {
  for (const opened of sources.values()) await (await opened.catch(() => undefined))?.ds.cleanup()
})

it('the fixture is canonical, so what goes in is what must come out', () => {
  for (const row of ROWS) for (const f of FIELDS) expect(representationProblem(f.type, row[f.name] ?? null), `${show(row.id)} ${f.name}`).toBeUndefined()
  expect([...(ROWS.at(-1)!.label as string)]).toHaveLength(100_000)
  for (const r of NATIVE_ROWS) expect(canonicalJson(r.docText)).toBe(r.doc)
})

for (const a of KINDS) {
  for (const b of KINDS) {
    const skipped = !reachable[a] || !reachable[b]
    describe.skipIf(skipped)(`${a} → ${b} → ${a}`, () => {
      const there = `from_${a}_to_${b}`
      const back = `back_${a}_from_${b}`
      const plan = (id: string, from: 'src' | 'dst', entity: string, into: string): SyncPlanInput => ({
        id,
        source: { connection: from, entity },
        destination: { connection: from === 'src' ? 'dst' : 'src', entity: into, create: true },
        keys: ['id'],
        mode: 'full',
        // A first batch of 2,000 new rows takes the bulk write paths; the
        // rest (the largest keys, the long text) a second, by keyset pagination.
        batchSize: 2_000,
      })
      let src: TestDatasource
      let dst: TestDatasource
      let expected: Row[]

      beforeAll(async () => {
        ;({ ds: src, rows: expected } = await source(a))
        dst = (await source(b)).ds
      })

      it('arrives exactly, an idle re-run changes nothing, and comes back identical', async () => {
        const { manager, cleanup } = await openManager(src, dst, [plan('there', 'src', SOURCE, there), plan('back', 'dst', there, back)])
        try {
          const n = expected.length
          expectRun(await manager.run('there'), { read: n, created: n, updated: 0, deleted: 0 })
          expectExact(await readAll(dst, there, ['id']), expected)
          expectTypes(await discoverOne(dst, there))
          expectRun(await manager.run('there'), { read: n, created: 0, updated: 0, deleted: 0, unchanged: n })

          expectRun(await manager.run('back'), { read: n, created: n, updated: 0, deleted: 0 })
          expectExact(await readAll(src, back, ['id']), expected)
          expectTypes(await discoverOne(src, back))
          expectRun(await manager.run('back'), { read: n, created: 0, updated: 0, deleted: 0, unchanged: n })
        } finally {
          await cleanup()
        }
      })
    })
  }
}

/** The fixture's integers beyond ±(2^53-1), moved inside it (order kept), for paths that read plain numbers. */
const WITHIN_2_53 = new Map<bigint, number>([
  [-(2n ** 63n), -Number.MAX_SAFE_INTEGER],
  [-(2n ** 53n + 1n), -Number.MAX_SAFE_INTEGER + 1],
  [2n ** 53n + 1n, Number.MAX_SAFE_INTEGER - 1],
  [2n ** 63n - 1n, Number.MAX_SAFE_INTEGER],
])

// The SQLite bulk export reads integers as plain numbers for speed and
// leaves the copy to the row path (which the pairs above take) when one is
// beyond 2^53; here every other edge value goes through the bulk COPY path.
describe.skipIf(!reachable.postgres)('sqlite → postgres in bulk (integers within 2^53)', () => {
  it('copies every other edge value exactly through COPY, and an idle re-run changes nothing', async () => {
    const src = (await source('sqlite')).ds
    const dst = (await source('postgres')).ds
    const safe = (v: Value | undefined) => (typeof v === 'bigint' ? WITHIN_2_53.get(v)! : v ?? null)
    const expected = await writeFixture(src, 'fidelity_bulk', [...ROWS, ...FILLER_ROWS].map((row) => ({ ...row, id: safe(row.id), big: safe(row.big) })))
    const sync: SyncPlanInput = { id: 'bulk', source: { connection: 'src', entity: 'fidelity_bulk' }, destination: { connection: 'dst', entity: 'from_sqlite_bulk', create: true }, keys: ['id'], mode: 'full' }
    const { manager, cleanup } = await openManager(src, dst, [sync])
    try {
      const messages: string[] = []
      const n = expected.length
      expectRun(await manager.run('bulk', { onProgress: (p) => messages.push(p.message) }), { read: n, created: n, updated: 0, deleted: 0 })
      expect(messages.some((m) => m.includes('copied in bulk')), messages.join('\n')).toBe(true)
      expectExact(await readAll(dst, 'from_sqlite_bulk', ['id']), expected)
      expectTypes(await discoverOne(dst, 'from_sqlite_bulk'))
      expectRun(await manager.run('bulk'), { read: n, created: 0, updated: 0, deleted: 0, unchanged: n })
    } finally {
      await cleanup()
    }
  })
})
