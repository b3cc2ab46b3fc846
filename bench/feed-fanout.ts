/**
 * Feed fan-out: `syncline serve` with BENCH_FEED_CLIENTS (default 200)
 * WebSocket clients on one PostgreSQL entity while a writer commits
 * BENCH_FEED_RATE changes/s (default 1,000: 10 single-row UPDATEs per
 * transaction, 100 transactions/s) for BENCH_FEED_SECONDS (default 20).
 *
 * Latency is commit → client: the event's `committedAt` (the source's commit
 * timestamp, carried by logical replication) to the moment the client's
 * message handler runs, both on this machine's wall clock. The clients run
 * in this process, so their own parsing is part of the figure, as it would
 * be for an application. Also: events delivered against those expected (every client
 * should see every change), and the daemon's CPU and peak RSS.
 */
import { spawn } from 'node:child_process'
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join, resolve } from 'node:path'
import pg from 'pg'
import { dropPg, pgUrl, psql, recreatePg } from './harness.js'

const CLIENTS = Number(process.env.BENCH_FEED_CLIENTS ?? 200)
const RATE = Number(process.env.BENCH_FEED_RATE ?? 1000)
const SECONDS = Number(process.env.BENCH_FEED_SECONDS ?? 20)
const PER_TRANSACTION = 10
const ROWS = 1000
const DATABASE = 'syncline_bench_feed'
const CLI = resolve('dist/cli/index.js')
/** Linux clock ticks per second (USER_HZ). */
const TICKS = 100

interface WsClient {
  on(event: 'message', listener: (data: Buffer) => void): void
  on(event: 'open' | 'close' | 'error', listener: () => void): void
  terminate(): void
}
const WebSocket = createRequire(import.meta.url)('ws') as new (url: string) => WsClient

/** Latencies in 0.1 ms buckets up to a minute, so millions of deliveries cost no memory to sort. */
class Histogram {
  private readonly buckets = new Uint32Array(600_000)
  count = 0
  max = 0
  add(ms: number): void {
    const bucket = Math.min(this.buckets.length - 1, Math.max(0, Math.round(ms * 10)))
    this.buckets[bucket]!++
    this.count++
    if (ms > this.max) this.max = ms
  }
  quantile(q: number): number {
    const target = Math.ceil(this.count * q)
    let seen = 0
    for (let i = 0; i < this.buckets.length; i++) {
      seen += this.buckets[i]!
      if (seen >= target) return i / 10
    }
    return this.max
  }
}

function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / TICKS
}

function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const match = /VmHWM:\s+(\d+) kB/.exec(status)
  return match === null ? 0 : Number(match[1]) / 1024
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** The feed section of `npm run bench`. */
export async function feedFanout(work: string): Promise<void> {
  console.log(`\nFeed fan-out: ${CLIENTS} WebSocket clients on one PostgreSQL entity, ${RATE.toLocaleString('en')} changes/s for ${SECONDS} s (commit → client)`)
  recreatePg(DATABASE)
  psql(DATABASE, `CREATE TABLE ticks (id bigint PRIMARY KEY, n bigint NOT NULL, payload text NOT NULL);
    INSERT INTO ticks SELECT g, 0, 'payload ' || md5(g::text) FROM generate_series(1, ${ROWS}) g`)
  const dir = join(work, 'feed-fanout')
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'syncline.yaml'), `connections:\n  src: { url: ${pgUrl(DATABASE)} }\nfeeds:\n  - { connection: src, entity: ticks }\n`)
  const daemon = spawn(process.execPath, [CLI, 'serve', '--no-auth', '--port', '0', '--log-level', 'info', '--json'], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, SYNCLINE_TOKEN: '' },
  })
  const exited = new Promise<void>((resolve) => daemon.on('exit', () => resolve()))
  const sockets: WsClient[] = []
  const writer = new pg.Client({ connectionString: pgUrl(DATABASE) })
  try {
    let log = ''
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`syncline serve did not start: ${log.slice(-2000)}`)), 60_000)
      daemon.stderr!.on('data', (chunk: Buffer) => {
        log += chunk.toString()
        const match = /"url":"(http:[^"]+)","auth"/.exec(log)
        if (match !== null) {
          clearTimeout(timer)
          resolve(match[1]!)
        }
      })
    })
    // The plan's feeds: capture from start; wait until its slot exists so clients do not time its creation.
    for (let i = 0; i < 600 && psql(DATABASE, `SELECT count(*) FROM pg_replication_slots WHERE database = '${DATABASE}'`).trim() !== '1'; i++) await sleep(100)

    const latency = new Histogram()
    let ready = 0
    let measuring = false
    const feedUrl = `${url.replace(/^http/, 'ws')}/feed?connection=src&entity=ticks`
    for (let i = 0; i < CLIENTS; i++) {
      const socket = new WebSocket(feedUrl)
      sockets.push(socket)
      socket.on('error', () => undefined)
      socket.on('message', (data) => {
        const now = performance.timeOrigin + performance.now()
        if (!measuring) {
          if (data.includes('"type":"ready"')) ready++
          return
        }
        // Only the commit time is read (as an application reads what it needs); no JSON.parse of every frame.
        const at = data.indexOf('"committedAt":"')
        if (at < 0) return
        const committed = Date.parse(data.toString('latin1', at + 15, data.indexOf(34, at + 15)))
        latency.add(now - committed)
      })
    }
    for (let i = 0; i < 600 && ready < CLIENTS; i++) await sleep(100)
    if (ready < CLIENTS) throw new Error(`only ${ready} of ${CLIENTS} feed clients became ready`)

    await writer.connect()
    const cpuBefore = cpuSeconds(daemon.pid!)
    measuring = true
    const transactions = Math.round((RATE * SECONDS) / PER_TRANSACTION)
    const interval = 1000 / (RATE / PER_TRANSACTION)
    const start = performance.now()
    let sent = 0
    for (let t = 0; t < transactions; t++) {
      const ids = Array.from({ length: PER_TRANSACTION }, (_, i) => ((t * PER_TRANSACTION + i) % ROWS) + 1)
      await writer.query(`UPDATE ticks SET n = n + 1 WHERE id = ANY($1::bigint[])`, [ids])
      sent += PER_TRANSACTION
      const due = start + (t + 1) * interval
      const wait = due - performance.now()
      if (wait > 0) await sleep(wait)
    }
    const writeSeconds = (performance.now() - start) / 1000
    const expected = sent * CLIENTS
    for (let i = 0; i < 300 && latency.count < expected; i++) await sleep(100)
    const cpu = cpuSeconds(daemon.pid!) - cpuBefore
    const rss = peakRssMb(daemon.pid!)
    const row = (label: string, value: string) => console.log(`  ${label.padEnd(34)} ${value}`)
    row('writer', `${sent.toLocaleString('en')} changes in ${writeSeconds.toFixed(1)} s (${Math.round(sent / writeSeconds).toLocaleString('en')}/s)`)
    row('delivered', `${latency.count.toLocaleString('en')} of ${expected.toLocaleString('en')} events (${((latency.count / expected) * 100).toFixed(2)} %)`)
    row('latency commit → client', `p50 ${latency.quantile(0.5).toFixed(1)} ms, p99 ${latency.quantile(0.99).toFixed(1)} ms, max ${latency.max.toFixed(1)} ms`)
    row('daemon CPU / peak RSS', `${((cpu / writeSeconds) * 100).toFixed(0)} % of one core, ${rss.toFixed(0)} MB`)
  } finally {
    for (const socket of sockets) socket.terminate()
    await writer.end().catch(() => undefined)
    daemon.kill('SIGTERM')
    await Promise.race([exited, sleep(15_000)])
    if (daemon.exitCode === null && daemon.signalCode === null) daemon.kill('SIGKILL')
    psql('postgres', `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = '${DATABASE}' AND NOT active`)
    dropPg(DATABASE)
  }
}
