/**
 * Scheduler overhead: `syncline serve` with 1,000 scheduled syncs. CPU of
 * the daemon process (user + system, from /proc) while nothing is due
 * (second-level schedules that fire at 03:00), and while the syncs fire
 * once a minute each, spread over the seconds (~17 small runs a second).
 * The bar: idle under 5 % of one core.
 */
import Database from 'better-sqlite3'
import { spawn } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'

const SYNCS = 1000
const CLI = resolve('dist/cli/index.js')
/** Linux clock ticks per second (USER_HZ). */
const TICKS = 100

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
}

function cpuSeconds(pid: number): number {
  // Fields 14 and 15 (utime, stime) after the command name in parentheses.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / TICKS
}

function measure(work: string, label: string, schedule: (i: number) => string, seconds: number): void {
  const dir = join(work, `scheduler-${label}`)
  const db = new Database(join(work, 'sched-src.db'))
  db.exec(`CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, name TEXT NOT NULL); INSERT OR IGNORE INTO items VALUES (1, 'a'), (2, 'b')`)
  db.close()
  const syncs = Array.from({ length: SYNCS }, (_, i) => `  - id: s${i}
    source: { connection: src, entity: items }
    destination: { connection: dst, entity: items_${i}, create: true }
    schedule: "${schedule(i)}"`)
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'syncline.yaml'), `connections:
  src: { url: sqlite:${join(work, 'sched-src.db')} }
  dst: { url: sqlite:./dst.db }
syncs:
${syncs.join('\n')}
`)
  const child = spawn(process.execPath, [CLI, 'serve', '--no-auth', '--port', '0', '--log-level', 'warn'], { cwd: dir, stdio: 'ignore', env: { ...process.env, SYNCLINE_TOKEN: '' } })
  try {
    sleep(4000) // start-up: plan loading, 1,000 croner jobs
    const before = cpuSeconds(child.pid!)
    sleep(seconds * 1000)
    const used = cpuSeconds(child.pid!) - before
    console.log(`  ${label.padEnd(38)} ${((used / seconds) * 100).toFixed(2).padStart(6)} % of one core over ${seconds} s`)
  } finally {
    child.kill('SIGKILL')
  }
}

/** The scheduler section of `npm run bench`. */
export function schedulerIdle(work: string): void {
  console.log(`\nScheduler: syncline serve with ${SYNCS.toLocaleString('en')} scheduled syncs (daemon CPU)`)
  measure(work, 'idle (nothing due)', (i) => `${i % 60} 0 3 * * *`, 10)
  measure(work, 'each sync once a minute (~17 runs/s)', (i) => `${i % 60} * * * * *`, 20)
}
