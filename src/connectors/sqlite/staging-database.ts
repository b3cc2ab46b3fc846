/**
 * The SQLite connector's public surface for connectors that keep their
 * data in a SQLite staging database (the file connector loads each CSV or
 * NDJSON file into one, then scans and writes it as SQLite would). Code
 * outside `sqlite/` imports only this module, so the rest of the folder can
 * change without breaking them.
 */
export { encodeValue, rowDecoder, type SqliteValue } from './codec.js'
export { SqliteFile } from './database.js'
export { sqliteFailure } from './errors.js'
export { CompareModes, quoteIdent } from './dialect.js'
export { describeTable, findTable } from './introspect.js'
export { applyBatch, createTable } from './sink.js'
export { comparedFields, comparedFilterFields, countRows, lookupRows, scanRows } from './source.js'
export { timestampSpellingSamples } from './timestamp-spellings.js'
