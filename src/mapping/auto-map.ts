/**
 * Auto-mapping: pair source and destination fields by name, the way a person
 * would read them: `AlbumId`, `album_id`, `Album Id` and `album-id` are one name.
 */
import type { FieldInfo } from '../values/canonical.js'

/**
 * A field name with case, white space, underscores and hyphens removed.
 * @example normalizeFieldName('Album Id') // 'albumid'
 */
export function normalizeFieldName(name: string): string {
  return name.toLowerCase().replace(/[\s_-]+/g, '')
}

/** Options for {@link autoMap}. */
export interface AutoMapOptions {
  /** Source fields never mapped (matched like field names: `password_hash` excludes `PasswordHash`). */
  exclude?: readonly string[]
}

/**
 * The field pairs auto-mapping would use, in source field order.
 *
 * With no destination (it will be created) every source field maps to a
 * field of the same name. Otherwise each source field maps to the
 * destination field with the same name, or failing that the same normalized
 * name ({@link normalizeFieldName}). An exact match always wins; a source
 * field whose normalized name matches several destination fields, or that
 * shares its normalized name with another source field competing for the
 * same destination, is skipped rather than guessed.
 * @example autoMap([{ name: 'AlbumId', … }], [{ name: 'album_id', … }]) // [{ source: 'AlbumId', destination: 'album_id' }]
 */
export function autoMap(
  source: readonly FieldInfo[],
  destination: readonly FieldInfo[] | undefined,
  opts: AutoMapOptions = {},
): Array<{ source: string; destination: string }> {
  const excluded = new Set((opts.exclude ?? []).map(normalizeFieldName))
  const candidates = source.filter((f) => !excluded.has(normalizeFieldName(f.name)))
  if (destination === undefined) return candidates.map((f) => ({ source: f.name, destination: f.name }))

  const destinationNames = new Set(destination.map((f) => f.name))
  const exact = new Set(candidates.filter((f) => destinationNames.has(f.name)).map((f) => f.name))

  // Normalized matching among what the exact matches left over, on both sides.
  const openDestinations = new Map<string, string[]>()
  for (const field of destination) {
    if (exact.has(field.name)) continue
    const key = normalizeFieldName(field.name)
    openDestinations.set(key, [...(openDestinations.get(key) ?? []), field.name])
  }
  const openSources = new Map<string, number>()
  for (const field of candidates) {
    if (exact.has(field.name)) continue
    const key = normalizeFieldName(field.name)
    openSources.set(key, (openSources.get(key) ?? 0) + 1)
  }

  const pairs: Array<{ source: string; destination: string }> = []
  for (const field of candidates) {
    if (exact.has(field.name)) {
      pairs.push({ source: field.name, destination: field.name })
      continue
    }
    const key = normalizeFieldName(field.name)
    const matches = openDestinations.get(key) ?? []
    if (matches.length === 1 && openSources.get(key) === 1) pairs.push({ source: field.name, destination: matches[0]! })
  }
  return pairs
}
