/**
 * The sync plan (`syncline.yaml`, DESIGN §1.1) as one zod schema that both
 * validates input at the edge and gives the TypeScript types used after it.
 */
import { z } from 'zod'
import { FILTER_OPERATORS } from '../connectors/connector.js'

/** Sync ids: lower-case letters, digits, `_` and `-`. */
export const SYNC_ID_PATTERN = /^[a-z0-9_-]+$/

/** A connection: a URL and, optionally, a password kept apart from it. */
export const connectionSchema = z.strictObject({
  url: z.string().min(1, 'give a URL such as sqlite:./shop.db or postgres://user@host:5432/db'),
  password: z.string().optional(),
  /** Webhook only: bearer token sent as `Authorization: Bearer …` (from `${VAR}`). */
  token: z.string().optional(),
  /** Webhook only: HMAC-SHA256 key of the `X-Syncline-Signature` header (from `${VAR}`). */
  secret: z.string().optional(),
  /** Change capture: `auto` (the native log: logical replication, binlog) or `triggers` (a change-log table). */
  cdc: z.enum(['auto', 'triggers']).optional(),
})

/** One end of a sync. */
export const endpointSchema = z.strictObject({
  connection: z.string().min(1),
  entity: z.string().min(1),
  /** Destination only: create the table when it does not exist. */
  create: z.boolean().optional(),
})

/** One explicit field mapping: a source field, a transform, or both. */
export const fieldMappingSchema = z
  .strictObject({
    source: z.string().min(1).optional(),
    destination: z.string().min(1),
    transform: z.string().min(1).optional(),
    /**
     * Two-way syncs: write this field from source to destination only. Needed
     * for transforms that cannot be undone (SPLIT, CONCAT…); the field is not
     * compared and never written back to the source.
     */
    oneWay: z.boolean().optional(),
  })
  .refine((f) => f.source !== undefined || f.transform !== undefined, {
    message: 'give a source field, a transform, or both',
  })

export const mappingSchema = z.strictObject({
  /** Map same-named fields (case-, space- and underscore-insensitive). Default true. */
  auto: z.boolean().default(true),
  fields: z.array(fieldMappingSchema).default([]),
  /** Source fields never mapped automatically. */
  exclude: z.array(z.string()).default([]),
})

const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()])

export const filterSchema = z
  .strictObject({
    field: z.string().min(1),
    op: z.enum(FILTER_OPERATORS),
    value: z.union([scalar, z.array(scalar)]).optional(),
  })
  .superRefine((f, ctx) => {
    const list = f.op === 'in' || f.op === 'not_in'
    const none = f.op === 'is_null' || f.op === 'is_not_null'
    if (none && f.value !== undefined) ctx.addIssue({ code: 'custom', path: ['value'], message: `'${f.op}' takes no value` })
    if (!none && f.value === undefined) ctx.addIssue({ code: 'custom', path: ['value'], message: `'${f.op}' needs a value` })
    if (list && !Array.isArray(f.value)) ctx.addIssue({ code: 'custom', path: ['value'], message: `'${f.op}' needs a list, e.g. [a, b]` })
    if (!list && Array.isArray(f.value)) ctx.addIssue({ code: 'custom', path: ['value'], message: `'${f.op}' takes one value, not a list` })
  })

/** `60s`, `5m`, `2h`, `1d`, or plain seconds. */
export const durationSchema = z.union([
  z.number().nonnegative(),
  z.string().regex(/^\d+(\.\d+)?\s*(ms|s|m|h|d)?$/, 'use a duration such as 60s, 5m, 2h or 1d'),
])

export const syncSchema = z.strictObject({
  id: z.string().regex(SYNC_ID_PATTERN, 'use lower-case letters, digits, _ and - (e.g. customers)'),
  source: endpointSchema,
  destination: endpointSchema,
  keys: z.array(z.string().min(1)).min(1).optional(),
  mode: z.enum(['full', 'incremental', 'realtime']).default('full'),
  direction: z.enum(['one-way', 'two-way']).default('one-way'),
  cursor: z.string().min(1).optional(),
  /**
   * Two-way syncs: the destination's change cursor when it is not the field
   * `cursor` maps to (e.g. source `updated_at`, destination `modified`).
   */
  destinationCursor: z.string().min(1).optional(),
  deletes: z.enum(['propagate', 'ignore']).default('propagate'),
  /**
   * How a full sync and `verify` compare a non-empty destination: `auto`
   * compares per-key-range checksums and reads rows only where they differ,
   * when both sides can and the mapping allows it (else row by row); `rows`
   * always row by row; `checksum` like auto but fails (naming why) when it
   * cannot. docs/sync-semantics.md, "Checksum comparison".
   */
  compare: z.enum(['auto', 'rows', 'checksum']).default('auto'),
  softDelete: z.string().min(1).optional(),
  mapping: mappingSchema.default({ auto: true, fields: [], exclude: [] }),
  filters: z.array(filterSchema).default([]),
  conflict: z.enum(['latest-wins', 'source-wins', 'destination-wins', 'merge', 'manual']).default('latest-wins'),
  /** latest-wins (and merge) when both sides' cursors are equal: this side wins. */
  conflictTies: z.enum(['source', 'destination']).default('source'),
  schedule: z.string().min(1).optional(),
  /** Time zone the schedule is read in (IANA name); default the plan's `timezone`, else the machine's. */
  timezone: z.string().min(1).optional(),
  batchSize: z.number().int().min(1).max(1_000_000).default(5000),
  lookback: durationSchema.default('60s'),
  maxErrors: z.number().int().min(0).default(0),
  /** Transient failures retried this many times, with exponential backoff and jitter. */
  retries: z.number().int().min(0).max(100).default(3),
  /** The first retry's delay; it doubles for each next one, capped at 5 minutes. */
  retryDelay: durationSchema.default('1s'),
  /**
   * Foreign keys between the destination tables of one run: `auto` loads
   * parents first and writes with the destination's checks off (its own
   * session only) where tables form a cycle or a table references itself;
   * `defer` always writes with them off; `check` never does (a row whose
   * parent is not there yet is rejected). After writing with checks off,
   * the run checks every foreign key of the table and fails the sync with
   * `FOREIGN_KEY_ORPHANS` listing rows that point nowhere. Default `auto`.
   */
  foreignKeys: z.enum(['auto', 'defer', 'check']).default('auto'),
  /**
   * Schema drift since the last run: a source field added, dropped or
   * renamed. `evolve` adds a new field to the destination (nullable, the
   * type `create: true` would give it) and maps it; `ignore` leaves it out
   * (and a vanished one's destination field as it is); `fail` stops the run
   * with `SCHEMA_DRIFT`. Never turns a destination field into NULLs. Default:
   * `evolve` for a destination syncline created, `fail` otherwise.
   */
  schema: z.enum(['evolve', 'ignore', 'fail']).optional(),
})

/**
 * How long run history (and the record errors of each run) is kept. A run
 * goes only when it is both older than `keepDays` and beyond the newest
 * `keepRuns` of its sync: whichever keeps more wins.
 */
export const historySchema = z.strictObject({
  /** Runs younger than this many days are kept. Default 30. */
  keepDays: z.number().positive('give a number of days above 0, e.g. keepDays: 30').default(30),
  /** The newest this many runs of each sync are kept, however old. Default 1000. */
  keepRuns: z.number().int('give a whole number, e.g. keepRuns: 1000').min(1, 'keep at least 1 run per sync, e.g. keepRuns: 1000').default(1000),
})

/** An entity the daemon's WebSocket feed captures from serve's start, not only once a client subscribes. */
export const feedSchema = z.strictObject({
  connection: z.string().min(1),
  entity: z.string().min(1),
})

export const planSchema = z.strictObject({
  /** Where watermarks and run history live: a path (SQLite) or a postgres:// URL. */
  state: z.string().min(1).default('.syncline/state.db'),
  /** Time zone every `schedule:` is read in unless a sync sets its own (IANA name); default the machine's. */
  timezone: z.string().min(1).optional(),
  /** Run history retention (`syncline prune`, and the daemon hourly). */
  history: historySchema.default({ keepDays: 30, keepRuns: 1000 }),
  connections: z.record(z.string().regex(/^[A-Za-z0-9_-]+$/, 'use letters, digits, _ and -'), connectionSchema).default({}),
  /** Entities the daemon's `/feed` captures from start (docs/daemon.md "Change feed"). */
  feeds: z.array(feedSchema).default([]),
  /** How long the feed's replay log keeps changes for clients resuming with `since` (default 24h). */
  feedReplay: durationSchema.default('24h'),
  syncs: z.array(syncSchema).default([]),
})

/** A plan as written (defaults optional). */
export type PlanInput = z.input<typeof planSchema>
/** A validated plan with defaults filled in. */
export type Plan = z.output<typeof planSchema>
/** One validated sync. */
export type SyncPlan = z.output<typeof syncSchema>
/** One sync as written. */
export type SyncPlanInput = z.input<typeof syncSchema>
export type ConnectionPlan = z.output<typeof connectionSchema>
export type FieldMapping = z.output<typeof fieldMappingSchema>
export type FilterPlan = z.output<typeof filterSchema>
export type HistoryPlan = z.output<typeof historySchema>
export type FeedPlan = z.output<typeof feedSchema>
/** A sync's schema drift policy. */
export type DriftPolicy = NonNullable<SyncPlan['schema']>

/** Parse a duration (`60s`, `5m`, 90) into milliseconds. */
export function durationMs(value: string | number): number {
  if (typeof value === 'number') return value * 1000
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(value.trim())
  if (!match) throw new Error(`not a duration: ${value}`)
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(match[2] ?? 's') as 'ms' | 's' | 'm' | 'h' | 'd']
  return Number(match[1]) * unit
}
