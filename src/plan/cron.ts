/**
 * A small cron validator for `schedule:` (5 fields, or 6 with seconds first),
 * so a typo is caught when the plan is validated, not when the daemon starts.
 * It accepts the syntax croner accepts for these fields: `*`, `?`, lists,
 * ranges, steps, month and weekday names, `L` (last day of the month), `5L`
 * (last Friday), `5#2` (second Friday), and the nicknames `@hourly`, `@daily`…
 */

interface CronField {
  name: string
  min: number
  max: number
  names?: readonly string[]
  /** Value of the first name (JAN = 1, SUN = 0). */
  namesFrom?: number
}

const SECOND: CronField = { name: 'second', min: 0, max: 59 }
const MINUTE: CronField = { name: 'minute', min: 0, max: 59 }
const HOUR: CronField = { name: 'hour', min: 0, max: 23 }
const DAY_OF_MONTH: CronField = { name: 'day of month', min: 1, max: 31 }
const MONTH: CronField = {
  name: 'month',
  min: 1,
  max: 12,
  names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'],
  namesFrom: 1,
}
// 7 is Sunday as well as 0, as in Vixie cron.
const DAY_OF_WEEK: CronField = {
  name: 'day of week',
  min: 0,
  max: 7,
  names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'],
  namesFrom: 0,
}

/** The nicknames croner understands. */
export const CRON_NICKNAMES = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'] as const

const EXAMPLE = `write 5 fields (minute hour day-of-month month day-of-week), e.g. '*/30 * * * *' for every 30 minutes or '0 2 * * *' for 02:00 daily`

/**
 * What is wrong with a cron expression, or undefined when it is valid.
 * @example cronProblem('*\/30 * * * *') // undefined
 * @example cronProblem('61 * * * *')   // "minute 61 is out of range 0-59"
 */
export function cronProblem(expression: string): string | undefined {
  const text = expression.trim()
  if (text.startsWith('@')) {
    return (CRON_NICKNAMES as readonly string[]).includes(text.toLowerCase())
      ? undefined
      : `unknown nickname '${text}'; use one of ${CRON_NICKNAMES.join(', ')}, or ${EXAMPLE}`
  }
  const parts = text.split(/\s+/).filter((p) => p !== '')
  let fields: CronField[]
  if (parts.length === 5) fields = [MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK]
  else if (parts.length === 6) fields = [SECOND, MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK]
  else return `a cron expression has 5 fields (or 6 with seconds first), this one has ${parts.length}; ${EXAMPLE}`
  for (let i = 0; i < fields.length; i++) {
    const problem = fieldProblem(parts[i]!, fields[i]!)
    if (problem !== undefined) return problem
  }
  return undefined
}

function fieldProblem(text: string, field: CronField): string | undefined {
  for (const item of text.split(',')) {
    if (item === '') return `${field.name} '${text}' has an empty list item; separate values with single commas, e.g. 1,15`
    const problem = itemProblem(item, field)
    if (problem !== undefined) return problem
  }
  return undefined
}

function itemProblem(item: string, field: CronField): string | undefined {
  const upper = item.toUpperCase()
  if (upper === '*') return undefined
  if (upper === '?') {
    return field === DAY_OF_MONTH || field === DAY_OF_WEEK
      ? undefined
      : `'?' is allowed only for day of month and day of week, not ${field.name}; use '*'`
  }
  if (field === DAY_OF_MONTH && upper === 'L') return undefined
  if (field === DAY_OF_WEEK) {
    const nth = /^(\w+)#(\d+)$/.exec(upper) ?? /^(\w+)(L)$/.exec(upper)
    if (nth) {
      const day = valueProblem(nth[1]!, field)
      if (typeof day === 'string') return day
      if (nth[2] !== 'L' && !(Number(nth[2]) >= 1 && Number(nth[2]) <= 5)) {
        return `day of week '${item}': the occurrence after '#' must be 1-5 (e.g. 5#2 for the second Friday)`
      }
      return undefined
    }
  }

  const [range = '', step, extra] = upper.split('/')
  if (extra !== undefined) return `${field.name} '${item}' has more than one '/'; write a step like */15`
  if (step !== undefined && !(/^\d+$/.test(step) && Number(step) >= 1)) {
    return `${field.name} step '${step}' in '${item}' must be a whole number of at least 1, e.g. */15`
  }
  if (step !== undefined && Number(step) > field.max) {
    return `${field.name} step ${step} in '${item}' is larger than the ${field.name} range ${field.min}-${field.max}, so it never repeats; use a step of at most ${field.max}`
  }
  if (range === '*') return undefined
  const bounds = range.split('-')
  if (bounds.length > 2) return `${field.name} range '${range}' must be two values like 1-5`
  const values: number[] = []
  for (const bound of bounds) {
    const value = valueProblem(bound, field)
    if (typeof value === 'string') return value
    values.push(value)
  }
  if (values.length === 2 && values[0]! > values[1]!) {
    return `${field.name} range '${range}' runs backwards; write the smaller value first, e.g. ${values[1]}-${values[0]}`
  }
  return undefined
}

/** The number a field value stands for, or a problem. */
function valueProblem(text: string, field: CronField): number | string {
  if (text === '') return `${field.name} is missing a value; ${EXAMPLE}`
  const nameIndex = field.names?.indexOf(text.toUpperCase()) ?? -1
  if (nameIndex >= 0) return nameIndex + (field.namesFrom ?? 0)
  if (!/^\d+$/.test(text)) {
    const names = field.names ? ` or a name (${field.names.join(', ')})` : ''
    return `${field.name} '${text}' is not a number${names}`
  }
  const value = Number(text)
  if (value < field.min || value > field.max) return `${field.name} ${value} is out of range ${field.min}-${field.max}`
  return value
}
