/**
 * The measuring machinery of the realtime section: single-row UPDATEs on a
 * source table, and how long each takes to become visible in a destination
 * table that some replicator (native logical replication, a syncline
 * realtime sync) keeps in step.
 *
 * Latency is timed on one clock, this process's monotonic one: from the
 * moment the writer sends an UPDATE to the moment a NOTIFY from a trigger on
 * the destination row arrives. PostgreSQL delivers a NOTIFY only when the
 * transaction that raised it commits, so the figure is "until a reader of
 * the destination could see it", destination commit included; a trigger
 * timestamp alone would be taken before that commit and flatter a sink that
 * holds its transaction open, and a polling reader would add its poll
 * interval and take CPU from the replicator on a small machine. The listener
 * is idle until notified. The trigger also reports the server-side delay
 * (destination row write − source statement, both `clock_timestamp()` of
 * the one local cluster) as a cross-check.
 *
 * A NOTIFY takes PostgreSQL's cluster-wide notify lock through its commit;
 * the probes go one at a time, so it never waits, but under sustained load a
 * NOTIFY per change would serialise the replicator's commits (and measure
 * the notification queue), so lag is sampled instead: every change sets `v` to its sequence
 * number, and lag is the age of the newest change visible at the
 * destination (`max(v)`), sampled a few times per second.
 */
import { readFileSync } from 'node:fs'
import pg from 'pg'

/** Rows the load phase updates: ids 1..rows. Latency probes use their own rows, ids -1..-PROBE_ROWS. */
export const PROBE_ROWS = 16

/** The table on both sides. `v` < 0 marks a latency probe. */
export const REALTIME_DDL = `CREATE TABLE items (id bigint PRIMARY KEY, v bigint NOT NULL, payload text NOT NULL, changed_at timestamptz NOT NULL)`

/** Source rows: the load rows and the probe rows. */
export function seedSql(rows: number): string {
  return `INSERT INTO items SELECT g, 0, 'payload of row ' || g || ' ' || md5(g::text), clock_timestamp()
          FROM generate_series(-${PROBE_ROWS}, ${rows}) g WHERE g <> 0`
}

/**
 * The destination trigger: once a probe row lands, NOTIFY `probe:delayMs`.
 * ENABLE ALWAYS because the native apply worker runs with
 * session_replication_role = replica, which skips ordinary triggers.
 */
export const PROBE_TRIGGER_SQL = `
  CREATE FUNCTION bench_probe_landed() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    PERFORM pg_notify('bench_probe', (-NEW.v) || ':' || (extract(epoch FROM clock_timestamp() - NEW.changed_at) * 1000));
    RETURN NEW;
  END $$;
  CREATE TRIGGER bench_probe AFTER INSERT OR UPDATE ON items FOR EACH ROW WHEN (NEW.v < 0) EXECUTE FUNCTION bench_probe_landed();
  ALTER TABLE items ENABLE ALWAYS TRIGGER bench_probe;`

/** Latency of single changes, one at a time. */
export interface LatencyResult {
  changes: number
  p50Ms: number
  p99Ms: number
  maxMs: number
  /** The trigger's own view: destination row write − source statement (server clock, before the destination commit). */
  serverP50Ms: number
}

/** A sustained-load run. */
export interface SustainedResult {
  targetRate: number
  seconds: number
  sent: number
  /** Changes the writer committed per second. */
  writeRate: number
  /** Changes visible at the destination per second while the writer ran. */
  applyRateDuring: number
  /** All changes / (last one visible − first one sent); undefined when the destination never caught up. */
  applyRateOverall?: number
  /** Median lag of the samples in the first, middle and last tenth of the write window. */
  lagStartMs: number
  lagMiddleMs: number
  lagEndMs: number
  /** From the writer's stop until the last change was visible; undefined: not within the drain timeout. */
  catchUpSeconds?: number
  /** Machine CPU busy (all cores) while the writer ran, 0..100. */
  machineCpuPercent: number
  /** CPU the replicator's processes (`pipeline`) used per 1,000 changes written, in ms; undefined without them. */
  pipelineCpuMsPer1000?: number
  /** The part of it that `pipeline.pids` (the sync process) used. */
  processCpuMsPer1000?: number
  /** The machine's 1-minute load average as the writer stopped (other work on a shared machine shows here). */
  loadAverage: number
  /** Whether source and destination hold the same rows afterwards (count and sum of v). */
  converged: boolean
  detail: string
}

const now = (): number => Number(process.hrtime.bigint()) / 1e6
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Nearest-rank percentile of ascending values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
}

function median(values: number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50)
}

async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: 'syncline_bench' })
  await client.connect()
  return client
}

/** Listens for probe notifications on the destination; `expect(n)` resolves when probe n landed. */
class ProbeListener {
  private waiting = new Map<number, (landed: { at: number; serverMs: number }) => void>()
  private constructor(private readonly client: pg.Client) {
    client.on('notification', (message) => {
      const at = now()
      const [probe, serverMs] = (message.payload ?? '').split(':').map(Number)
      this.waiting.get(probe!)?.({ at, serverMs: serverMs! })
      this.waiting.delete(probe!)
    })
  }

  static async open(url: string): Promise<ProbeListener> {
    const client = await connect(url)
    await client.query('LISTEN bench_probe')
    return new ProbeListener(client)
  }

  /** Register before sending, so a fast notification is not missed. */
  expect(probe: number, timeoutMs: number): Promise<{ at: number; serverMs: number }> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(probe)
        reject(new Error(`probe ${probe} did not reach the destination within ${timeoutMs / 1000} s`))
      }, timeoutMs)
      this.waiting.set(probe, (landed) => {
        clearTimeout(timer)
        resolve(landed)
      })
    })
  }

  close(): Promise<void> {
    return this.client.end()
  }
}

/** Probe numbers grow across calls on one source, so a late notification never matches a new probe. */
let nextProbe = 1

/** A source database and the destination some replicator keeps in step with it (URLs). */
export interface Pair {
  src: string
  dst: string
}

/**
 * Send `changes` single-row UPDATEs to each pair, one at a time (each its
 * own transaction), waiting for each to land before the next, and return
 * each pair's latencies. With several pairs the probes alternate between
 * them, in alternating order, so background load on a shared machine hits
 * every replicator alike. Probes are 0–3 ms apart so nothing runs in
 * lock-step with a timer of a replicator.
 *
 * @example
 * await measureLatency([{ src: pgUrl('src'), dst: pgUrl('dst') }], 50, { timeoutMs: 60_000 }) // warm-up
 */
export async function measureLatency(pairs: Pair[], changes: number, opts: { timeoutMs?: number } = {}): Promise<LatencyResult[]> {
  const ends = await Promise.all(pairs.map(async (p) => ({ writer: await connect(p.src), listener: await ProbeListener.open(p.dst), latencies: [] as number[], server: [] as number[] })))
  let row = 0
  try {
    for (let i = 0; i < changes; i++) {
      const order = i % 2 === 0 ? ends : [...ends].reverse()
      for (const end of order) {
        const probe = nextProbe++
        const landed = end.listener.expect(probe, opts.timeoutMs ?? 10_000)
        const sent = now()
        await end.writer.query({ name: 'probe', text: 'UPDATE items SET v = $1, changed_at = clock_timestamp() WHERE id = $2', values: [-probe, -(1 + (Math.floor(row++ / ends.length) % PROBE_ROWS))] })
        const { at, serverMs } = await landed
        end.latencies.push(at - sent)
        end.server.push(serverMs)
        await sleep(Math.random() * 3)
      }
    }
  } finally {
    await Promise.allSettled(ends.flatMap((e) => [e.writer.end(), e.listener.close()]))
  }
  return ends.map(({ latencies, server }) => {
    latencies.sort((a, b) => a - b)
    return { changes, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), maxMs: latencies.at(-1)!, serverP50Ms: median(server) }
  })
}

/** CPU time a process used so far, in ms (0 once it is gone). */
function processCpuMs(pid: number): number {
  try {
    // After "pid (comm) ": utime and stime are the 12th and 13th fields, in clock ticks (100 per second).
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
    return (Number(fields[11]) + Number(fields[12])) * 10
  } catch {
    return 0
  }
}

/** The processes serving `databases` (bar the benchmark's sessions) and `pids`, with the CPU each used so far. */
async function pipelineProcesses(client: pg.Client, databases: string[], pids: number[]): Promise<{ pid: number; given: boolean; before: number }[]> {
  const { rows } = await client.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity
      WHERE datname = ANY($1) AND pid <> pg_backend_pid() AND application_name NOT IN ('syncline_bench', 'psql')
        AND backend_type IN ('client backend', 'walsender', 'logical replication worker')`,
    [databases],
  )
  return [...rows.map((r) => ({ pid: r.pid, given: false })), ...pids.map((pid) => ({ pid, given: true }))].map((p) => ({ ...p, before: processCpuMs(p.pid) }))
}

/** Busy and total jiffies of the whole machine. */
function machineCpu(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
  const total = fields.reduce((a, b) => a + b, 0)
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0) // idle + iowait
  return { busy: total - idle, total }
}

/**
 * Drive `rate` single-row UPDATEs per second (each its own transaction,
 * spread over `writers` connections, rows in rotation) for `seconds`, sample
 * the destination's lag every `sampleMs`, then wait for it to catch up.
 * The writer sends as fast as it can when it cannot keep the rate; the
 * achieved rate is reported.
 */
export async function sustainLoad(
  srcUrl: string,
  dstUrl: string,
  opts: {
    rate: number
    seconds: number
    rows: number
    writers?: number
    sampleMs?: number
    drainSeconds?: number
    /**
     * The replicator's processes, for its CPU: every server process on these
     * databases but the benchmark's own (its walsender, apply worker, the
     * sessions of a sync process), and `pids` (the sync process).
     */
    pipeline?: { databases: string[]; pids?: number[] }
  },
): Promise<SustainedResult> {
  const writers = opts.writers ?? 4
  const sampleMs = opts.sampleMs ?? 250
  const windowMs = opts.seconds * 1000
  // Send time of change `seq` (1-based), ms on this process's monotonic clock.
  const sentAt = new Float64Array(Math.ceil(opts.rate * opts.seconds * 1.05) + writers + 2)
  const [sampler, ...clients] = await Promise.all([connect(dstUrl), ...Array.from({ length: writers }, () => connect(srcUrl))])
  const samples: { at: number; maxV: number; lagMs: number }[] = []
  const pipeline = opts.pipeline ? await pipelineProcesses(sampler, opts.pipeline.databases, opts.pipeline.pids ?? []) : []
  let sent = 0
  let committed = 0
  const start = now()
  const cpuBefore = machineCpu()
  let writeEnd = start

  const write = async (client: pg.Client): Promise<void> => {
    for (;;) {
      const elapsed = now() - start
      if (elapsed >= windowMs || sent + 1 >= sentAt.length) return
      const dueAt = (sent / opts.rate) * 1000
      if (dueAt > elapsed) {
        await sleep(dueAt - elapsed)
        continue
      }
      const seq = ++sent
      sentAt[seq] = now()
      await client.query({ name: 'change', text: 'UPDATE items SET v = $1, changed_at = clock_timestamp() WHERE id = $2', values: [seq, 1 + (seq % opts.rows)] })
      committed++
    }
  }
  const sample = async (): Promise<number> => {
    const at = now()
    const { rows } = await sampler.query<{ v: string | null }>('SELECT max(v) AS v FROM items')
    const maxV = Number(rows[0]?.v ?? 0)
    // Nothing landed yet: the lag is everything since the first change.
    const newest = maxV > 0 ? sentAt[maxV]! : start
    samples.push({ at, maxV, lagMs: Math.max(0, at - newest) })
    return maxV
  }

  let writing = true
  const sampling = (async () => {
    while (writing) {
      await sample()
      await sleep(sampleMs)
    }
  })()
  try {
    await Promise.all(clients.map(write))
    writeEnd = now()
  } finally {
    writing = false
    await sampling
  }
  const cpuAfter = machineCpu()
  // What had landed when the writer stopped (the last periodic sample may be a sampleMs older).
  const atWriteEnd = await sample()

  let caughtUpAt: number | undefined
  const drainUntil = now() + (opts.drainSeconds ?? Math.max(30, opts.seconds)) * 1000
  while (now() < drainUntil) {
    if ((await sample()) >= sent) {
      caughtUpAt = samples.at(-1)!.at
      break
    }
    await sleep(50)
  }
  // Until caught up: a replicator that falls behind does the rest of its work after the writer stopped.
  const used = pipeline.map((p) => ({ ...p, ms: Math.max(0, processCpuMs(p.pid) - p.before) }))
  const pipelineCpuMs = used.reduce((sum, p) => sum + p.ms, 0)
  const processCpuMsUsed = used.filter((p) => p.given).reduce((sum, p) => sum + p.ms, 0)
  const compare = 'SELECT count(*)::text || \'/\' || sum(v)::text AS s FROM items WHERE id > 0'
  const [source, destination] = await Promise.all([clients[0]!.query<{ s: string }>(compare), sampler.query<{ s: string }>(compare)])
  await Promise.allSettled([sampler.end(), ...clients.map((c) => c.end())])

  const writeMs = writeEnd - start
  const inWindow = (from: number, to: number) => samples.filter((s) => s.at - start >= from * writeMs && s.at - start <= to * writeMs).map((s) => s.lagMs)
  const converged = source.rows[0]?.s === destination.rows[0]?.s
  return {
    targetRate: opts.rate,
    seconds: writeMs / 1000,
    sent,
    writeRate: committed / (writeMs / 1000),
    applyRateDuring: atWriteEnd / (writeMs / 1000),
    applyRateOverall: caughtUpAt === undefined ? undefined : sent / ((caughtUpAt - sentAt[1]!) / 1000),
    lagStartMs: median(inWindow(0, 0.1)),
    lagMiddleMs: median(inWindow(0.45, 0.55)),
    lagEndMs: median(inWindow(0.9, 1)),
    catchUpSeconds: caughtUpAt === undefined ? undefined : (caughtUpAt - writeEnd) / 1000,
    machineCpuPercent: (100 * (cpuAfter.busy - cpuBefore.busy)) / Math.max(1, cpuAfter.total - cpuBefore.total),
    pipelineCpuMsPer1000: pipeline.length > 0 && committed > 0 ? pipelineCpuMs / (committed / 1000) : undefined,
    processCpuMsPer1000: used.some((p) => p.given) && committed > 0 ? processCpuMsUsed / (committed / 1000) : undefined,
    loadAverage: Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]),
    converged,
    detail: `${samples.length} lag samples; source rows/sum(v) ${source.rows[0]?.s}, destination ${destination.rows[0]?.s}`,
  }
}

/** A backlog drained: how fast a replicator applies when it, not the writer, is the limit. */
export interface BacklogResult {
  changes: number
  /** Changes per second from the first backlog change visible at the destination to the last (NaN: all visible at the first look). */
  drainRate: number
  /** From `resume` returning to the first backlog change visible (process start, slot reconnect, launcher delay). */
  startSeconds: number
}

/**
 * With the replicator stopped (`pause`), commit `changes` single-row
 * UPDATEs as fast as the writer can, restart it (`resume`) and time how fast
 * the destination catches up. The rate is taken from the first backlog
 * change visible to the last, so start-up costs (a process starting, the
 * subscription launcher's retry interval) are reported apart, not mixed in.
 */
export async function drainBacklog(
  srcUrl: string,
  dstUrl: string,
  opts: { changes: number; rows: number; writers?: number; pause: () => Promise<void>; resume: () => Promise<void>; timeoutSeconds?: number },
): Promise<BacklogResult> {
  const writers = opts.writers ?? 4
  const [sampler, ...clients] = await Promise.all([connect(dstUrl), ...Array.from({ length: writers }, () => connect(srcUrl))])
  const maxV = async (client: pg.Client) => Number((await client.query<{ v: string | null }>('SELECT max(v) AS v FROM items')).rows[0]?.v ?? 0)
  try {
    await opts.pause()
    // Above every value an earlier phase wrote, so max(v) tells which backlog changes landed.
    const from = (await maxV(clients[0]!)) + 1
    const last = from + opts.changes - 1
    let next = from
    await Promise.all(
      clients.map(async (client) => {
        while (next <= last) {
          const v = next++
          await client.query({ name: 'backlog', text: 'UPDATE items SET v = $1, changed_at = clock_timestamp() WHERE id = $2', values: [v, 1 + (v % opts.rows)] })
        }
      }),
    )
    await opts.resume()
    const resumed = now()
    const until = resumed + (opts.timeoutSeconds ?? 300) * 1000
    let first: { at: number; v: number } | undefined
    for (;;) {
      const at = now()
      const v = await maxV(sampler)
      if (first === undefined && v >= from) first = { at, v }
      if (v >= last && first) {
        // All of it visible at the first look (NaN): too small a backlog to time.
        return { changes: opts.changes, drainRate: first.v >= last ? Number.NaN : (last - first.v) / ((at - first.at) / 1000), startSeconds: (first.at - resumed) / 1000 }
      }
      if (at > until) throw new Error(`the destination applied ${Math.max(0, v - from + 1)} of ${opts.changes} backlog changes within ${opts.timeoutSeconds ?? 300} s`)
      await sleep(20)
    }
  } finally {
    await Promise.allSettled([sampler.end(), ...clients.map((c) => c.end())])
  }
}
