/**
 * The cached descriptions of a SQL connector's entities: read from the
 * catalog once, reused for 30 s, and read again (with one retry of the work)
 * when work fails because the entity or a field is missing, which means the
 * table was dropped or altered since it was described.
 */
import { SynclineError } from '../../errors.js'

/** How long a description is reused before the catalog is read again. */
export const TABLE_CACHE_MS = 30_000

/** Error codes after which a cached description is stale. */
const STALE_CODES = new Set(['ENTITY_NOT_FOUND', 'FIELD_NOT_FOUND'])

/**
 * The described table, or undefined when the entity does not exist (other
 * errors propagate): for questions about an entity that may be missing.
 * @example const table = await existingTable(ctx.table('items'))
 */
export async function existingTable<T>(described: Promise<T>): Promise<T | undefined> {
  try {
    return await described
  } catch (error) {
    if (error instanceof SynclineError && error.code === 'ENTITY_NOT_FOUND') return undefined
    throw error
  }
}

/** Descriptions of type `T` by entity name. */
export class TableCache<T> {
  readonly #tables = new Map<string, { at: number; table: Promise<T> }>()

  /**
   * @param describe reads one entity from the catalog (throws ENTITY_NOT_FOUND when missing).
   * @param nameOf the name a description goes by (`public.items` for `items`): the engine asks by the
   *   described name after a plan's, and each table would otherwise be read from the catalog twice.
   */
  constructor(
    private readonly describe: (entity: string) => Promise<T>,
    private readonly nameOf?: (table: T) => string,
  ) {}

  /** The description of an entity, from the cache while it is fresh. */
  get(entity: string): Promise<T> {
    const cached = this.#tables.get(entity)
    if (cached && Date.now() - cached.at < TABLE_CACHE_MS) return cached.table
    const table = this.describe(entity)
    const entry = { at: Date.now(), table }
    this.#tables.set(entity, entry)
    table.then(
      (described) => {
        const name = this.nameOf?.(described)
        if (name !== undefined && name !== entity) this.#tables.set(name, entry)
      },
      () => this.#tables.delete(entity),
    )
    return table
  }

  /**
   * Run work that uses the cached description of an entity. When it fails
   * because the entity or a field is missing and the description came from
   * the cache, describe it again and retry once, so a column added to a
   * destination mid-run is seen.
   */
  async withTable<R>(entity: string, work: () => Promise<R>): Promise<R> {
    const started = Date.now()
    try {
      return await work()
    } catch (error) {
      if (!(error instanceof SynclineError) || !STALE_CODES.has(error.code)) throw error
      const cached = this.#tables.get(entity)
      this.forget(entity)
      if (!cached || cached.at >= started) throw error
      return work()
    }
  }

  /** Forget one entity (e.g. before describing it fresh), by every name its description goes by. */
  forget(entity: string): void {
    const entry = this.#tables.get(entity)
    for (const [name, other] of this.#tables) if (name === entity || (entry !== undefined && other === entry)) this.#tables.delete(name)
  }

  /** Forget everything (after creating a table, on close). */
  clear(): void {
    this.#tables.clear()
  }
}
