/**
 * Loading a plan: read the file, parse YAML (with line and column on errors),
 * expand `${VAR}`, validate. The one way a plan enters syncline.
 */
import { readFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { LineCounter, parseDocument, visit, type YAMLError } from 'yaml'
import { PlanError, SynclineError, type PlanIssue } from '../errors.js'
import { expandEnv } from './env.js'
import type { Plan } from './schema.js'
import { validatePlan } from './validate.js'
import { locateIssues } from './yaml-location.js'

/** A validated plan and where it came from. */
export interface LoadedPlan {
  /** The plan with `${VAR}` expanded and defaults filled in. */
  plan: Plan
  /** Absolute path of the plan file, when loaded from one. */
  path?: string
  /** Directory relative paths (`sqlite:./shop.db`, `state`) are resolved against: the plan file's. */
  baseDir: string
  /** The parsed YAML before `${VAR}` expansion, so saving can keep `${VAR}` instead of writing secrets. */
  raw: unknown
}

/** Options for {@link parsePlan}. */
export interface ParsePlanOptions {
  /** Variables for `${VAR}`; default `process.env`. */
  env?: NodeJS.ProcessEnv
  /** Directory relative paths are resolved against; default the current directory. */
  baseDir?: string
  /** The YAML text `input` was parsed from, to add line numbers to issues. */
  source?: string
  /** Absolute path of the file, recorded in the result. */
  path?: string
}

/**
 * Load and validate a plan file.
 * @throws SynclineError `PLAN_NOT_FOUND` when the file does not exist;
 *   PlanError `YAML_INVALID` (line, column and the offending line), `ENV_MISSING`, or `PLAN_INVALID`.
 * @example const { plan, baseDir } = await loadPlanFile('syncline.yaml')
 */
export async function loadPlanFile(path: string, env: NodeJS.ProcessEnv = process.env): Promise<LoadedPlan> {
  const absolute = resolve(path)
  let text: string
  try {
    text = await readFile(absolute, 'utf8')
  } catch (error) {
    throw unreadable(path, absolute, error)
  }
  return parsePlanText(text, { env, path: absolute, baseDir: dirname(absolute) }, path)
}

/**
 * Validate a plan given as an object (the library's `SyncManager.open({ config: {…} })`),
 * or as YAML text.
 * @throws PlanError `ENV_MISSING` or `PLAN_INVALID` (or `YAML_INVALID` for text)
 * @example const { plan } = parsePlan({ connections: { shop: { url: 'sqlite:shop.db' } }, syncs: [] })
 */
export function parsePlan(input: unknown, opts: ParsePlanOptions = {}): LoadedPlan {
  if (typeof input === 'string') return parsePlanText(input, opts, opts.path ?? 'the plan text')
  return validateRaw(input, opts)
}

function parsePlanText(text: string, opts: ParsePlanOptions, displayName: string): LoadedPlan {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, merge: true })
  if (doc.errors.length > 0) throw yamlError(text, displayName, doc.errors, lineCounter)
  let raw: unknown
  try {
    raw = doc.toJS({ maxAliasCount: 100 })
  } catch (error) {
    throw aliasError(text, displayName, doc, lineCounter, error)
  }
  // An empty file is an empty plan; a lone scalar is almost always a path passed as text.
  if (raw === null || raw === undefined) raw = {}
  if (typeof raw !== 'object') {
    throw new PlanError(
      [
        {
          path: '',
          message:
            opts.path === undefined
              ? `${displayName} holds the value ${JSON.stringify(raw)}, not a plan; to load a file, use loadPlanFile(path)`
              : `${displayName} holds the value ${JSON.stringify(raw)}, not a plan: a mapping with connections: and syncs: (\`syncline init\` writes an example)`,
        },
      ],
      { code: 'YAML_INVALID' },
    )
  }
  return validateRaw(raw, { ...opts, source: text })
}

function validateRaw(raw: unknown, opts: ParsePlanOptions): LoadedPlan {
  const locate = (issues: PlanIssue[]): PlanIssue[] => (opts.source === undefined ? issues : locateIssues(issues, opts.source))
  let expanded: unknown
  try {
    expanded = expandEnv(raw, opts.env ?? process.env)
  } catch (error) {
    if (error instanceof PlanError) throw new PlanError(locate(error.issues), { code: error.code })
    throw error
  }
  const result = validatePlan(expanded)
  if (!result.ok) throw new PlanError(locate(result.errors))
  const loaded: LoadedPlan = { plan: result.plan, baseDir: opts.baseDir ?? process.cwd(), raw }
  if (opts.path !== undefined) loaded.path = opts.path
  return loaded
}

function unreadable(given: string, absolute: string, error: unknown): SynclineError {
  const code = (error as NodeJS.ErrnoException).code
  if (code === 'ENOENT') {
    return new SynclineError(
      'PLAN_NOT_FOUND',
      'config',
      `No sync plan at ${absolute}. Create one with \`syncline init\`, or point to yours with --config FILE (or SYNCLINE_CONFIG).`,
      { cause: error, details: { path: absolute } },
    )
  }
  if (code === 'EISDIR') {
    return new SynclineError(
      'PLAN_NOT_FOUND',
      'config',
      `${given} is a directory, not a plan file; pass the file, e.g. --config ${given.replace(/\/$/, '')}/syncline.yaml`,
      { cause: error, details: { path: absolute } },
    )
  }
  return new SynclineError(
    'PLAN_NOT_FOUND',
    'config',
    `Cannot read the sync plan ${absolute} (${code ?? (error as Error).message}); check that the file is readable by this user.`,
    { cause: error, details: { path: absolute } },
  )
}

/** What a YAML error usually means in a plan file, in place of the parser's wording. */
function explain(error: YAMLError, sourceLine: string): string {
  switch (error.code) {
    case 'DUPLICATE_KEY':
      return 'this key appears twice in the same mapping; keep one'
    case 'TAB_AS_INDENT':
      return 'YAML does not allow tabs for indentation; indent with spaces'
    case 'MULTIPLE_DOCS':
      return "the plan must be one YAML document; remove the '---' line and merge the documents"
    case 'BLOCK_AS_IMPLICIT_KEY':
      return "a value containing ': ' must be quoted, e.g. key: \"a: b\""
    case 'BAD_SCALAR_START':
      return `${error.message}; put the value in quotes`
    case 'UNEXPECTED_TOKEN':
      if (/(^|\s)\*/.test(sourceLine)) return 'a value that starts with * must be quoted, e.g. schedule: "*/30 * * * *"'
      return `${error.message}; check the indentation and quoting on this line`
    default:
      return `${error.message}; check the indentation, quotes and brackets on this line or the one before`
  }
}

function yamlError(text: string, displayName: string, errors: readonly YAMLError[], lineCounter: LineCounter): PlanError {
  const lines = text.split(/\r?\n/)
  const seenLines = new Set<number>()
  const issues: PlanIssue[] = []
  for (const error of errors) {
    const reported = lineCounter.linePos(error.pos[0])
    // The parser notices an unclosed [ or { only on a later line: point at the bracket.
    const unclosed = /^Flow (sequence|map)/.test(error.message) ? unclosedBracket(lines, reported.line) : undefined
    const line = unclosed?.line ?? reported.line
    // One report per line: an unquoted `* * * *` yields one error per star.
    if (seenLines.has(line)) continue
    seenLines.add(line)
    const sourceLine = lines[line - 1] ?? ''
    // The parser trips over a later star; point at the first, where the quote belongs.
    const star = error.code === 'UNEXPECTED_TOKEN' ? /(^|[\s:])\*/.exec(sourceLine) : null
    const col = unclosed?.col ?? (star ? star.index + star[1]!.length + 1 : reported.col)
    const explanation = unclosed ? `this '${unclosed.bracket}' is never closed; add the closing '${unclosed.bracket === '[' ? ']' : '}'}' on this line` : explain(error, sourceLine)
    issues.push({ path: '', message: `${displayName}: line ${line}, column ${col}: ${explanation}\n${snippet(sourceLine, col)}` })
    if (issues.length === 5) break
  }
  return new PlanError(issues, { code: 'YAML_INVALID' })
}

function aliasError(text: string, displayName: string, doc: ReturnType<typeof parseDocument>, lineCounter: LineCounter, error: unknown): PlanError {
  let offset: number | undefined
  visit(doc, {
    Alias(_, node) {
      offset = node.range?.[0]
      return visit.BREAK
    },
  })
  const reason = `${(error as Error).message}; a value that starts with * must be quoted, e.g. schedule: "*/30 * * * *"`
  if (offset === undefined) return new PlanError([{ path: '', message: `${displayName}: ${reason}` }], { code: 'YAML_INVALID', cause: error })
  const { line, col } = lineCounter.linePos(offset)
  const sourceLine = text.split(/\r?\n/)[line - 1] ?? ''
  return new PlanError([{ path: '', message: `${displayName}: line ${line}, column ${col}: ${reason}\n${snippet(sourceLine, col)}` }], {
    code: 'YAML_INVALID',
    cause: error,
  })
}

/** The nearest line at or above `fromLine` with a `[` or `{` it does not close (quotes and comments skipped). */
function unclosedBracket(lines: readonly string[], fromLine: number): { line: number; col: number; bracket: string } | undefined {
  for (let line = fromLine; line >= Math.max(1, fromLine - 20); line--) {
    const open: { col: number; bracket: string }[] = []
    const text = lines[line - 1] ?? ''
    let quote: string | undefined
    for (let i = 0; i < text.length; i++) {
      const ch = text[i]!
      if (quote) {
        if (ch === quote) quote = undefined
      } else if (ch === '"' || ch === "'") quote = ch
      else if (ch === '#' && (i === 0 || /\s/.test(text[i - 1]!))) break
      else if (ch === '[' || ch === '{') open.push({ col: i + 1, bracket: ch })
      else if (ch === ']' || ch === '}') open.pop()
    }
    const first = open[0]
    if (first) return { line, ...first }
  }
  return undefined
}

/** The offending line and a caret under the column. */
function snippet(sourceLine: string, column: number): string {
  return `    ${sourceLine.replaceAll('\t', ' ')}\n    ${' '.repeat(Math.max(0, column - 1))}^`
}

