/**
 * Saving a plan back to its file: atomically (temp file + rename), with the
 * previous file kept as `<name>.bak`, comments of the previous file kept, and
 * `${VAR}` references kept instead of the secrets they expanded to.
 */
import { randomBytes } from 'node:crypto'
import { copyFile, mkdir, open, readFile, realpath, rename, stat, unlink } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { parseDocument, type Document } from 'yaml'
import { PlanError, type PlanIssue } from '../errors.js'
import { expandEnvString, isPlainObject } from './env.js'
import { formatPath, type PathSegment } from './path.js'
import { planToDocument } from './plan-document.js'
import { planSchema, type Plan, type PlanInput } from './schema.js'
import { issuesFromZod } from './schema-issues.js'
import { validatePlan } from './validate.js'
import { mergeIntoDocument, newDocument } from './yaml-merge.js'

/** Options for {@link savePlanFile}. */
export interface SavePlanOptions {
  /**
   * The plan as last loaded, before `${VAR}` expansion (`LoadedPlan.raw`).
   * Default: what the file at `path` holds now.
   */
  previousRaw?: unknown
  /** Variables `${VAR}` references expand with; default `process.env`. */
  env?: NodeJS.ProcessEnv
}

/** What {@link savePlanFile} did. */
export interface SavePlanResult {
  /** Where the previous file was kept (`syncline.yaml.bak`), when there was one. */
  backupPath?: string
}

/**
 * Validate `plan` and write it to `path` as YAML.
 *
 * - The write is atomic: a temporary file in the same directory renamed over the old one.
 * - The previous file is copied to `<path>.bak` first (overwriting an older backup).
 * - Comments and layout of the previous file are kept where its settings still exist.
 * - Where the previous document had `${VAR}` and the value is unchanged after expansion,
 *   `${VAR}` is written, never the secret.
 * - Settings equal to their defaults are left out, unless the previous file spelled them out.
 *
 * `plan` may hold `${VAR}` text itself (a raw plan) or expanded values.
 * @throws PlanError when the plan is not valid (nothing is written)
 * @example const { backupPath } = await savePlanFile('syncline.yaml', loaded.plan, { previousRaw: loaded.raw })
 */
export async function savePlanFile(path: string, plan: PlanInput | Plan, opts: SavePlanOptions = {}): Promise<SavePlanResult> {
  const env = opts.env ?? process.env
  const parsed = validateForSave(plan, env)
  const target = await resolveTarget(path)

  const previousText = await readFile(target, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined
    throw error
  })
  let previousDoc: Document | undefined
  if (previousText !== undefined) {
    const doc = parseDocument(previousText, { merge: true })
    if (doc.errors.length === 0) previousDoc = doc
  }
  const previousRaw = opts.previousRaw !== undefined ? opts.previousRaw : safeToJS(previousDoc)

  const document = planToDocument(parsed, previousRaw, env)
  let doc: Document
  if (previousDoc) {
    mergeIntoDocument(previousDoc, document)
    doc = previousDoc
  } else {
    doc = newDocument(document)
  }
  const text = doc.toString({ lineWidth: 0 })

  let backupPath: string | undefined
  let mode = 0o644
  if (previousText !== undefined) {
    mode = (await stat(target)).mode & 0o777
    backupPath = `${target}.bak`
    await copyFile(target, backupPath)
  }
  await writeAtomically(target, text, mode)
  return backupPath === undefined ? {} : { backupPath }
}

/**
 * The plan with defaults, after checking it. Values that still hold `${VAR}`
 * are checked as expanded where the variable is set; settings whose variable
 * is not set here are not held against the plan (the loader checks them).
 */
function validateForSave(plan: unknown, env: NodeJS.ProcessEnv): Plan {
  const parsed = planSchema.safeParse(plan)
  if (!parsed.success) throw new PlanError(issuesFromZod(parsed.error.issues, plan, planSchema))
  const unresolved: string[] = []
  const expanded = expandWherePossible(plan, [], env, unresolved)
  const result = validatePlan(expanded)
  if (!result.ok) {
    const issues: PlanIssue[] = result.errors.filter((issue) => !unresolved.some((p) => issue.path === p || issue.path.startsWith(`${p}.`)))
    if (issues.length > 0) throw new PlanError(issues)
  }
  return parsed.data
}

function expandWherePossible(value: unknown, path: PathSegment[], env: NodeJS.ProcessEnv, unresolved: string[]): unknown {
  if (typeof value === 'string') {
    if (!value.includes('${')) return value
    const expanded = expandEnvString(value, env)
    if (expanded.ok) return expanded.value
    unresolved.push(formatPath(path))
    // A password field of the same connection is judged with it.
    if (path[path.length - 1] === 'url') unresolved.push(formatPath([...path.slice(0, -1), 'password']))
    return value
  }
  if (Array.isArray(value)) return value.map((item, i) => expandWherePossible(item, [...path, i], env, unresolved))
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {}
    for (const [key, item] of Object.entries(value)) out[key] = expandWherePossible(item, [...path, key], env, unresolved)
    return out
  }
  return value
}

/** The real file behind `path` (so a symlinked plan stays a symlink), or the absolute path for a new file. */
async function resolveTarget(path: string): Promise<string> {
  const absolute = resolve(path)
  try {
    return await realpath(absolute)
  } catch {
    await mkdir(dirname(absolute), { recursive: true })
    return absolute
  }
}

async function writeAtomically(target: string, text: string, mode: number): Promise<void> {
  const temp = join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
  const handle = await open(temp, 'wx', mode)
  try {
    await handle.writeFile(text, 'utf8')
    // Flushed before the rename, so a crash leaves the old file or the new one, never half of one.
    await handle.sync()
  } finally {
    await handle.close()
  }
  try {
    await rename(temp, target)
  } catch (error) {
    await unlink(temp).catch(() => undefined)
    throw error
  }
}

function safeToJS(doc: Document | undefined): unknown {
  try {
    return doc?.toJS()
  } catch {
    return undefined
  }
}
