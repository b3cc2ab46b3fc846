/**
 * Mapping: which source field goes to which destination field (auto-map and
 * explicit fields), the transform language, value coercion and filters.
 */
export { autoMap, normalizeFieldName, type AutoMapOptions } from './auto-map.js'
export { canConvert, canonicalText, coerceValue, convertValue } from './coerce.js'
export { matchesFilters, resolveFilters } from './filters.js'
export { createRecordMapper, type MappedField, type RecordMapper, type RecordMapperInput } from './record-mapper.js'
export * from './transform/index.js'
