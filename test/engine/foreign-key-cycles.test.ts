/**
 * A sample-database schema with a foreign key cycle (departments.head_id →
 * employees, employees.dept_id → departments) and a self-reference
 * (employees.manager_id), synced between engines: every row lands whatever
 * order its parents come in, the destination's checks are off for syncline's
 * own writing session only, and rows that point nowhere are reported by
 * table and key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SyncPlanInput } from '../../src/plan/schema.js'
import { openDatasource, type DatasourceKind, type TestDatasource } from './datasources.js'
import { openManager, readAll } from './sync-harness.js'

/** The schema in each dialect; the cycle is closed by a constraint added afterwards where the dialect needs that. */
function schema(kind: DatasourceKind): string[] {
  const id = kind === 'postgres' ? 'bigint' : kind === 'mysql' ? 'BIGINT' : 'INTEGER'
  const text = kind === 'mysql' ? 'VARCHAR(100)' : 'TEXT'
  const employees = `CREATE TABLE employees (id ${id} PRIMARY KEY, name ${text} NOT NULL, dept_id ${id} NOT NULL, manager_id ${id},
    CONSTRAINT employees_dept_fk FOREIGN KEY (dept_id) REFERENCES departments (id),
    CONSTRAINT employees_manager_fk FOREIGN KEY (manager_id) REFERENCES employees (id))`
  if (kind === 'sqlite') {
    // SQLite takes a reference to a table created later, and no ALTER TABLE … ADD CONSTRAINT.
    return [`CREATE TABLE departments (id INTEGER PRIMARY KEY, name TEXT NOT NULL, head_id INTEGER, CONSTRAINT departments_head_fk FOREIGN KEY (head_id) REFERENCES employees (id))`, employees]
  }
  return [
    `CREATE TABLE departments (id ${id} PRIMARY KEY, name ${text} NOT NULL, head_id ${id})`,
    employees,
    `ALTER TABLE departments ADD CONSTRAINT departments_head_fk FOREIGN KEY (head_id) REFERENCES employees (id)`,
  ]
}

/**
 * Rows whose parents come later in key order: department 1's head is
 * employee 4, employee 1 works in department 2 and reports to employee 5.
 */
async function fill(src: TestDatasource): Promise<void> {
  for (const [id, name] of [[1, 'Sales'], [2, 'Research'], [3, 'Support']] as const) await src.exec(`INSERT INTO departments (id, name, head_id) VALUES (?, ?, NULL)`, [id, name])
  const people: [number, string, number, number | null][] = [
    [5, 'Eve', 2, null],
    [4, 'Dan', 1, 5],
    [3, 'Cy', 3, 4],
    [2, 'Bo', 1, 4],
    [1, 'Al', 2, 5],
  ]
  for (const row of people) await src.exec(`INSERT INTO employees (id, name, dept_id, manager_id) VALUES (?, ?, ?, ?)`, row)
  for (const [dept, head] of [[1, 4], [2, 5], [3, 3]]) await src.exec(`UPDATE departments SET head_id = ? WHERE id = ?`, [head, dept])
}

/** Let the source hold a row that references nothing: drop its constraint first. */
async function addOrphan(src: TestDatasource): Promise<void> {
  await src.exec(src.kind === 'mysql' ? `ALTER TABLE employees DROP FOREIGN KEY employees_manager_fk` : `ALTER TABLE employees DROP CONSTRAINT employees_manager_fk`)
  await src.exec(`INSERT INTO employees (id, name, dept_id, manager_id) VALUES (?, ?, ?, ?)`, [9, 'Ghost', 1, 42])
}

// Listed children first on purpose; batches of 2 so parents also come in later batches.
const syncs: SyncPlanInput[] = ['employees', 'departments'].map((t) => ({ id: t, source: { connection: 'src', entity: t }, destination: { connection: 'dst', entity: t }, batchSize: 2 }))

const pairs: [DatasourceKind, DatasourceKind][] = [
  ['postgres', 'mysql'],
  ['mysql', 'postgres'],
  ['postgres', 'sqlite'],
]

for (const [from, to] of pairs) {
  describe(`foreign key cycle and self-reference, ${from} → ${to}`, () => {
    let src: TestDatasource
    let dst: TestDatasource
    beforeAll(async () => {
      src = await openDatasource(from, 'src')
      dst = await openDatasource(to, 'dst')
      for (const sql of schema(from)) await src.exec(sql)
      for (const sql of schema(to)) await dst.exec(sql)
      await fill(src)
    })
    afterAll(async () => {
      await src?.cleanup()
      await dst?.cleanup()
    })

    it('loads every row of both tables, whatever order their parents come in', async () => {
      const { manager, cleanup } = await openManager(src, dst, syncs)
      try {
        const results = await manager.runMany()
        expect(results.map((r) => [r.id, r.status, r.created, r.error])).toEqual([
          ['employees', 'succeeded', 5, undefined],
          ['departments', 'succeeded', 3, undefined],
        ])
        expect(results[0]!.notes?.join(' ')).toMatch(/foreign key checks off .*checked afterwards and holds/)
        expect((await readAll(dst, 'employees', ['id'])).map((r) => [Number(r.id), Number(r.dept_id), r.manager_id === null ? null : Number(r.manager_id)])).toEqual([
          [1, 2, 5],
          [2, 1, 4],
          [3, 3, 4],
          [4, 1, 5],
          [5, 2, null],
        ])
        expect((await readAll(dst, 'departments', ['id'])).map((r) => [Number(r.id), Number(r.head_id)])).toEqual([
          [1, 4],
          [2, 5],
          [3, 3],
        ])
        const history = await manager.history('employees')
        expect(history.map((r) => [r.mode, r.status])).toContainEqual(['foreign-keys', 'succeeded'])
      } finally {
        await cleanup()
      }
    })

    it('leaves the destination checking foreign keys for every other session', async () => {
      // After the run: another session is refused a row that references nothing.
      await expect(dst.exec(`INSERT INTO employees (id, name, dept_id, manager_id) VALUES (?, ?, ?, ?)`, [70, 'Nobody', 99, null])).rejects.toThrow(/foreign key/i)
      if (to === 'mysql') expect(await dst.query(`SELECT @@GLOBAL.foreign_key_checks AS g, @@SESSION.foreign_key_checks AS s`)).toEqual([{ g: 1, s: 1 }])
      if (to === 'postgres') expect(await dst.query(`SELECT current_setting('session_replication_role') AS role`)).toEqual([{ role: 'origin' }])
    })

    it('loads a table that references itself when its sync runs alone', async () => {
      // Employee 6 reports to 8, which comes in the next batch.
      for (const [id, manager] of [[7, null], [8, 7], [6, 8]]) await src.exec(`INSERT INTO employees (id, name, dept_id, manager_id) VALUES (?, ?, ?, ?)`, [id, `new ${id}`, 1, manager])
      const { manager, cleanup } = await openManager(src, dst, syncs)
      try {
        const result = await manager.run('employees')
        expect([result.status, result.created, result.error]).toEqual(['succeeded', 3, undefined])
        expect(result.notes?.join(' ')).toMatch(/checked afterwards and holds/)
        expect((await readAll(dst, 'employees', ['id'])).filter((r) => Number(r.id) >= 6).map((r) => [Number(r.id), r.manager_id === null ? null : Number(r.manager_id)])).toEqual([
          [6, 8],
          [7, null],
          [8, 7],
        ])
      } finally {
        await cleanup()
      }
    })

    it('fails the sync whose rows point nowhere, naming the table, the key and the row', async () => {
      await addOrphan(src)
      const { manager, cleanup } = await openManager(src, dst, syncs)
      try {
        const results = await manager.runMany()
        const table = to === 'postgres' ? 'public.employees' : 'employees'
        const employees = results.find((r) => r.id === 'employees')!
        expect(employees.status).toBe('failed')
        expect(employees.errorCode).toBe('FOREIGN_KEY_ORPHANS')
        expect(employees.error).toContain(`${table} (manager_id) → ${table} (id): 1 row(s): id=9 manager_id=42`)
        expect(employees.orphans).toEqual([{ entity: table, fields: ['manager_id'], references: { entity: table, fields: ['id'] }, count: 1, rows: [{ id: 9, manager_id: 42 }] }])
        expect(results.find((r) => r.id === 'departments')!.status).toBe('succeeded')
        const [check] = (await manager.history('employees')).filter((r) => r.mode === 'foreign-keys')
        expect([check?.status, check?.errorCode]).toEqual(['failed', 'FOREIGN_KEY_ORPHANS'])
        expect(check?.error).toContain('id=9 manager_id=42')
      } finally {
        await cleanup()
      }
    })
  })
}
