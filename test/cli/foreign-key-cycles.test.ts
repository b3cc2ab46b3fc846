/**
 * Foreign key cycles from the command line: `validate --live` explains the
 * order and which syncs write with the destination's checks off and how;
 * `run` lands a cycle and a self-reference, and reports rows that point
 * nowhere by table and key in its human and JSON output and in history.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { BUILD_TIMEOUT_MS, ensureBuilt } from './build.js'
import { jsonLines, STACK_FRAME } from './cli.js'
import { workspace, type Workspace } from './workspace.js'

beforeAll(ensureBuilt, BUILD_TIMEOUT_MS)

let ws: Workspace | undefined
afterEach(() => {
  ws?.remove()
  ws = undefined
})

const SCHEMA = `
  CREATE TABLE departments (id INTEGER PRIMARY KEY, name TEXT NOT NULL, head_id INTEGER REFERENCES employees (id));
  CREATE TABLE employees (id INTEGER PRIMARY KEY, name TEXT NOT NULL, dept_id INTEGER NOT NULL REFERENCES departments (id), manager_id INTEGER REFERENCES employees (id));
`

/** Source rows whose parents come later in key order (the source file does not enforce its keys, like many exports). */
const ROWS = `
  PRAGMA foreign_keys = OFF;
  INSERT INTO departments VALUES (1, 'Sales', 3), (2, 'Research', 2);
  INSERT INTO employees VALUES (1, 'Al', 2, 3), (2, 'Bo', 2, NULL), (3, 'Cy', 1, 2);
`

const PLAN = `connections:
  hr:
    url: sqlite:./hr.db
  copy:
    url: sqlite:./copy.db
syncs:
  - id: employees
    source: { connection: hr, entity: employees }
    destination: { connection: copy, entity: employees }
    batchSize: 1
  - id: departments
    source: { connection: hr, entity: departments }
    destination: { connection: copy, entity: departments }
    batchSize: 1
`

function setUp(): Workspace {
  const w = workspace()
  w.sqlite('hr.db', SCHEMA + ROWS)
  w.sqlite('copy.db', SCHEMA)
  w.write('syncline.yaml', PLAN)
  return w
}

describe('foreign key cycles in the CLI', () => {
  it('validate --live explains the order, the cycle and how checks are switched off', async () => {
    ws = setUp()
    const validate = await ws.run(['validate', '--live'])
    expect(validate.code, validate.all).toBe(0)
    expect(validate.stdout).toMatch(/parents first \(departments, employees\)|parents first \(employees, departments\)/)
    expect(validate.stdout).toMatch(/employees, departments: a foreign key cycle \(.*departments \(head_id\) → employees.*\)/)
    expect(validate.stdout).toMatch(/employees \(manager_id\) → employees/)
    expect(validate.stdout).toMatch(/copy's foreign key checks off for syncline's own session only \(PRAGMA foreign_keys = OFF/)
    expect(validate.stdout).toMatch(/FOREIGN_KEY_ORPHANS/)
    const json = await ws.run(['validate', '--live', '--json'])
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, foreignKeys: expect.arrayContaining([expect.stringMatching(/a foreign key cycle/)]) })
  })

  it('run lands the cycle, then reports an orphan by table and key (JSON, text, history)', async () => {
    ws = setUp()
    const first = await ws.run(['run', '--json'])
    expect(first.code, first.all).toBe(0)
    expect(jsonLines(first.stdout).map((l) => [l.id, l.status, l.created])).toEqual([
      ['employees', 'succeeded', 3],
      ['departments', 'succeeded', 2],
    ])
    expect(ws.sqliteRows('copy.db', 'SELECT id, head_id FROM departments ORDER BY id')).toEqual([
      { id: 1, head_id: 3 },
      { id: 2, head_id: 2 },
    ])

    ws.sqlite('hr.db', `PRAGMA foreign_keys = OFF; INSERT INTO employees VALUES (7, 'Ghost', 9, NULL)`)
    const second = await ws.run(['run', '--json'])
    expect(second.code, second.all).toBe(1)
    const employees = jsonLines(second.stdout).find((l) => l.id === 'employees')
    expect(employees).toMatchObject({
      status: 'failed',
      errorCode: 'FOREIGN_KEY_ORPHANS',
      orphans: [{ entity: 'employees', fields: ['dept_id'], references: { entity: 'departments', fields: ['id'] }, count: 1, rows: [{ id: 7, dept_id: 9 }] }],
    })
    expect(second.all).not.toMatch(STACK_FRAME)

    const text = await ws.run(['run'])
    expect(text.code).toBe(1)
    expect(text.stdout).toMatch(/employees: failed/)
    expect(text.stdout).toContain('employees (dept_id) → departments (id): 1 row(s): id=7 dept_id=9')

    const history = await ws.run(['history', 'employees'])
    expect(history.stdout).toMatch(/foreign-keys/)
    expect(history.stdout).toContain('id=7 dept_id=9')
  })
})
