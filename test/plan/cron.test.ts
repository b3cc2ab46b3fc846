import { describe, expect, it } from 'vitest'
import { createSchedule, cronProblem } from '../../src/plan/cron.js'
import { parsePlan } from '../../src/plan/load.js'
import { PlanError } from '../../src/errors.js'

const ACCEPTED = [
  '*/30 * * * *',
  '0 2 * * *',
  '0 9-17 * * MON-FRI',
  '15,45 */2 1 JAN,jul *',
  '*/10 * * * * *',
  '0 0 L * *',
  '0 0 * * 5L',
  '0 0 ? * 5#2',
  '0 0 * * 7',
  '@daily',
  '@HOURLY',
]

const REJECTED: Array<[string, RegExp]> = [
  ['* * * *', /has 5 fields .* this one has 4/],
  ['* * * * * * *', /this one has 7/],
  ['61 * * * *', /minute 61 is out of range 0-59/],
  ['* 24 * * *', /hour 24 is out of range 0-23/],
  ['* * 0 * *', /day of month 0 is out of range 1-31/],
  ['* * 32 * *', /day of month 32 is out of range 1-31/],
  ['* * * 13 *', /month 13 is out of range 1-12/],
  ['* * * * 8', /day of week 8 is out of range 0-7/],
  ['*/0 * * * *', /illegal stepping: 0/],
  ['*/61 * * * *', /steps cannot be greater/],
  ['10-5 * * * *', /From value is larger than to value/],
  ['* * * FOO *', /illegal characters/],
  ['1,,2 * * * *', /empty/],
  ['0 0 * * 5#6', /nth weekday out of range/],
  ['@often', /unknown nickname '@often'; use one of @yearly/],
]

describe('cronProblem', () => {
  it.each(ACCEPTED)('accepts %s, and the scheduler computes its next tick', (expression) => {
    expect(cronProblem(expression)).toBeUndefined()
    const job = createSchedule(expression, 'Europe/Berlin')
    expect(job.nextRun()).toBeInstanceOf(Date)
    job.stop()
  })

  it.each(REJECTED)('rejects %s with a reason and an example, and the scheduler refuses it too', (expression, reason) => {
    const problem = cronProblem(expression)
    expect(problem).toMatch(reason)
    expect(problem).toContain("e.g. '*/30 * * * *'")
    // Validation and scheduling agree: what validation refuses, the scheduler cannot run.
    if (!expression.startsWith('@')) expect(() => createSchedule(expression, undefined).nextRun()).toThrow()
  })

  it('reads a schedule in its time zone', () => {
    const from = new Date('2026-05-31T23:30:00Z')
    const berlin = createSchedule('0 2 * * *', 'Europe/Berlin').nextRun(from)
    const newYork = createSchedule('0 2 * * *', 'America/New_York').nextRun(from)
    expect(berlin?.toISOString()).toBe('2026-06-01T00:00:00.000Z')
    expect(newYork?.toISOString()).toBe('2026-06-01T06:00:00.000Z')
  })

  it('names an unknown time zone', () => {
    expect(cronProblem('0 2 * * *', 'Mars/Base')).toMatch(/unknown time zone 'Mars\/Base'; use an IANA name such as UTC/)
  })
})

describe('plan timezone and retry settings', () => {
  const base = {
    connections: { a: { url: 'sqlite:./a.db' }, b: { url: 'sqlite:./b.db' } },
    syncs: [{ id: 's', source: { connection: 'a', entity: 't' }, destination: { connection: 'b', entity: 't' }, schedule: '0 2 * * *' }],
  }
  const issues = (plan: unknown) => {
    try {
      parsePlan(plan, { env: {}, baseDir: '/tmp' })
      return []
    } catch (error) {
      if (error instanceof PlanError) return error.issues
      throw error
    }
  }

  it('accepts a timezone per plan and per sync, and defaults retryDelay to 1s', () => {
    const plan = parsePlan({ ...base, timezone: 'UTC', syncs: [{ ...base.syncs[0], timezone: 'Asia/Tokyo' }] }, { env: {}, baseDir: '/tmp' }).plan
    expect(plan.timezone).toBe('UTC')
    expect(plan.syncs[0]).toMatchObject({ timezone: 'Asia/Tokyo', retries: 3, retryDelay: '1s' })
  })

  it('names a bad time zone where it is written, once', () => {
    expect(issues({ ...base, timezone: 'Mars/Base' })).toEqual([{ path: 'timezone', message: expect.stringMatching(/unknown time zone 'Mars\/Base'/) }])
    expect(issues({ ...base, syncs: [{ ...base.syncs[0], timezone: 'Nowhere' }] })).toEqual([
      { path: 'syncs[0].timezone', message: expect.stringMatching(/unknown time zone 'Nowhere'/) },
    ])
  })

  it('refuses a retryDelay that is not a duration', () => {
    expect(issues({ ...base, syncs: [{ ...base.syncs[0], retryDelay: 'soon' }] })[0]).toMatchObject({ path: 'syncs[0].retryDelay' })
  })
})
