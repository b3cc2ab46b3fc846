/** Entity descriptions for the mapping tests, shaped as connectors return them. */
import type { CanonicalType, EntityInfo, FieldInfo } from '../../src/values/canonical.js'

/** A field; nullable unless said otherwise. */
export function field(name: string, type: CanonicalType, extra: Partial<FieldInfo> = {}): FieldInfo {
  return { name, type, nativeType: extra.nativeType ?? type, nullable: true, ...extra }
}

/** An entity with these fields and primary key. */
export function entity(name: string, fields: FieldInfo[], primaryKey: string[] = []): EntityInfo {
  return { name, fields, primaryKey, uniqueKeys: [], foreignKeys: [] }
}

/** Field name → type, as compileTransform and matchesFilters take them. */
export function typesOf(e: EntityInfo): Map<string, CanonicalType> {
  return new Map(e.fields.map((f) => [f.name, f.type]))
}
