import { describe, expect, it } from 'vitest'
import { cronProblem } from '../../src/plan/cron.js'

describe('cronProblem', () => {
  it.each([
    '*/30 * * * *',
    '0 2 * * *',
    '0 9-17 * * MON-FRI',
    '15,45 */2 1 JAN,jul *',
    '*/10 * * * * *',
    '0 0 L * *',
    '0 0 * * 5L',
    '0 0 ? * 5#2',
    '0 0 * * 7',
    '5/15 * * * *',
    '@daily',
    '@HOURLY',
  ])('accepts %s', (expression) => {
    expect(cronProblem(expression)).toBeUndefined()
  })

  it.each([
    ['* * * *', /has 5 fields .* this one has 4/],
    ['* * * * * * *', /this one has 7/],
    ['61 * * * *', /minute 61 is out of range 0-59/],
    ['* 24 * * *', /hour 24 is out of range 0-23/],
    ['* * 0 * *', /day of month 0 is out of range 1-31/],
    ['* * * 13 *', /month 13 is out of range 1-12/],
    ['* * * * 8', /day of week 8 is out of range 0-7/],
    ['*/0 * * * *', /step '0'.*at least 1/],
    ['*/61 * * * *', /step 61 .* larger than the minute range/],
    ['10-5 * * * *', /runs backwards; write the smaller value first, e.g. 5-10/],
    ['* * * FOO *', /month 'FOO' is not a number or a name \(JAN/],
    ['1,,2 * * * *', /empty list item/],
    ['? * * * *', /'\?' is allowed only for day of month and day of week/],
    ['0 0 * * 5#6', /occurrence after '#' must be 1-5/],
    ['@often', /unknown nickname '@often'; use one of @yearly/],
  ])('rejects %s with a reason', (expression, reason) => {
    expect(cronProblem(expression)).toMatch(reason)
  })
})
