/**
 * `schedule:` and `timezone:` as croner reads them. Validation and the
 * daemon's scheduler both go through {@link createSchedule}, so a schedule
 * that validates is exactly one the daemon can run, and one it cannot run is
 * refused when the plan is validated, not when the daemon starts.
 *
 * Accepted: 5 fields (minute hour day-of-month month day-of-week) or 6 with
 * seconds first; `*`, `?`, lists, ranges, steps, month and weekday names,
 * `L`, `5L`, `5#2`, and the nicknames `@hourly`, `@daily`…
 */
import { Cron } from 'croner'

/** The nicknames croner understands. */
export const CRON_NICKNAMES = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'] as const

const EXAMPLE = `write 5 fields (minute hour day-of-month month day-of-week), e.g. '*/30 * * * *' for every 30 minutes or '0 2 * * *' for 02:00 daily, or 6 with seconds first`

/** What a scheduled job does on each tick. */
export type ScheduleTick = () => void

/**
 * A croner job for `expression` in `timezone` (IANA name; default the
 * machine's), paused unless `onTick` is given. Throws croner's error for an
 * invalid expression or zone; use {@link cronProblem} for a message.
 * @example createSchedule('*\/5 * * * * *', 'Europe/Berlin', () => startRun())
 */
export function createSchedule(expression: string, timezone: string | undefined, onTick?: ScheduleTick): Cron {
  const options = {
    // Seconds optional, no year field: what DESIGN §1.1 promises.
    mode: '5-or-6-parts' as const,
    ...(timezone === undefined ? {} : { timezone }),
    paused: onTick === undefined,
  }
  return onTick === undefined ? new Cron(expression.trim(), options) : new Cron(expression.trim(), options, onTick)
}

/**
 * What is wrong with a cron expression (in a time zone), or undefined when
 * croner accepts it and can compute its next tick.
 * @example cronProblem('*\/30 * * * *') // undefined
 * @example cronProblem('61 * * * *')   // "Invalid value for minute: 61; write 5 fields …"
 */
export function cronProblem(expression: string, timezone?: string): string | undefined {
  if (timezone !== undefined) {
    const zone = timezoneProblem(timezone)
    if (zone !== undefined) return zone
  }
  const text = expression.trim()
  if (text.startsWith('@') && !(CRON_NICKNAMES as readonly string[]).includes(text.toLowerCase())) {
    return `unknown nickname '${text}'; use one of ${CRON_NICKNAMES.join(', ')}, or ${EXAMPLE}`
  }
  const fields = text.split(/\s+/).length
  if (!text.startsWith('@') && fields !== 5 && fields !== 6) {
    // Croner says the same, less plainly; it refuses these too.
    return `a cron expression has 5 fields (or 6 with seconds first), this one has ${fields}; ${EXAMPLE}`
  }
  try {
    const job = createSchedule(text, timezone)
    // Croner checks some things (the zone, impossible dates) only when it computes a time.
    job.nextRun()
    job.stop()
    return undefined
  } catch (error) {
    return `${readableReason(error instanceof Error ? error.message : String(error))}; ${EXAMPLE}`
  }
}

/** Croner's field names and ranges; it counts days of the month and months from 0 in its messages. */
const FIELDS: Record<string, { name: string; range: string; shift: number }> = {
  second: { name: 'second', range: '0-59', shift: 0 },
  minute: { name: 'minute', range: '0-59', shift: 0 },
  hour: { name: 'hour', range: '0-23', shift: 0 },
  day: { name: 'day of month', range: '1-31', shift: 1 },
  month: { name: 'month', range: '1-12', shift: 1 },
  dayOfWeek: { name: 'day of week', range: '0-7', shift: 0 },
}

/** Croner's message in the plan's own terms ("month 13 is out of range 1-12", not "month: 12"). */
function readableReason(message: string): string {
  const reason = message.replace(/^Cron\w*:\s*/, '')
  const invalid = /^Invalid value for (\w+): (-?\d+)$/.exec(reason)
  const field = invalid ? FIELDS[invalid[1]!] : undefined
  if (!invalid || !field) return reason
  return `${field.name} ${Number(invalid[2]) + field.shift} is out of range ${field.range}`
}

/**
 * What is wrong with a time zone name, or undefined for a valid IANA zone.
 * @example timezoneProblem('Europe/Berlin') // undefined
 */
export function timezoneProblem(timezone: string): string | undefined {
  try {
    new Intl.DateTimeFormat('en', { timeZone: timezone })
    return undefined
  } catch {
    return `unknown time zone '${timezone}'; use an IANA name such as UTC, Europe/Berlin or America/New_York`
  }
}
