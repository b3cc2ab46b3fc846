/**
 * Row images from the binlog (as the binlog reader hands them over) to
 * canonical rows, exactly as `scan` reads the same rows.
 *
 * The reader decodes with mysql2's `dateStrings`, `supportBigNumbers`,
 * `jsonStrings` and `timezone: 'Z'`, which keeps every value exact in the
 * form the text protocol would give it: DECIMAL as its digits (never a
 * float), BIGINT beyond 2^53 as text, DATETIME/TIMESTAMP as
 * `YYYY-MM-DD HH:MM:SS.ffffff` (TIMESTAMP in UTC, all fraction digits),
 * JSON and text as strings (decoded in the column's character set), BLOB
 * and BINARY as bytes. The column's own decoder from introspect.ts (the one
 * `scan` uses) then makes them canonical, so a change and a scan of the
 * same row are equal value by value.
 *
 * Two things the driver form would get wrong are fixed here and in the
 * reader: ENUM and SET members that contain a comma or a quote (the
 * reader parses the member list itself, see {@link enumMembers}), and
 * spatial values (the binlog carries WKB, which zongji turns into
 * points without their geometry type; here they become WKT as `ST_AsText`
 * prints them, where the column type says which geometry it is).
 */
import { RecordError } from '../../errors.js'
import type { Row, Value } from '../../values/canonical.js'
import { DecodeProblem } from './codec.js'
import type { MyColumn, MyTable } from './introspect.js'
import { describeKey } from './source.js'

/**
 * The members of an ENUM or SET column type as the server defines them:
 * `enum('a,b','it''s')` → `['a,b', "it's"]`. zongji splits the list on
 * commas and drops quotes by position, which mangles such members.
 */
export function enumMembers(columnType: string): string[] | undefined {
  const open = /^(?:enum|set)\(/i.exec(columnType)
  if (!open) return undefined
  const members: string[] = []
  let i = open[0].length
  while (i < columnType.length && columnType[i] === "'") {
    let member = ''
    i++
    for (; i < columnType.length; i++) {
      const ch = columnType[i]!
      if (ch === "'" && columnType[i + 1] === "'") {
        member += "'"
        i++
      } else if (ch === "'") {
        break
      } else if (ch === '\\' && i + 1 < columnType.length) {
        member += columnType[++i]
      } else {
        member += ch
      }
    }
    members.push(member)
    i++ // the closing quote
    if (columnType[i] === ',') i++
  }
  return members
}

type Point = { x: number; y: number }

const coordinate = (n: number) => String(n)
const points = (list: Point[]) => list.map((p) => `${coordinate(p.x)} ${coordinate(p.y)}`).join(',')

const isPoint = (v: unknown): v is Point => typeof v === 'object' && v !== null && 'x' in v && 'y' in v
const isPoints = (v: unknown): v is Point[] => Array.isArray(v) && v.every(isPoint)

/**
 * zongji's parsed WKB (a point, a list of points, a list of rings) as WKT,
 * for the column types whose shape says which geometry it is. A generic
 * GEOMETRY column's list of points could be a line string or a multipoint
 * (zongji keeps no type), so only its points are decoded.
 */
function spatialDecoder(dataType: string): (value: unknown) => Value {
  return (value) => {
    if (isPoint(value) && (dataType === 'point' || dataType === 'geometry')) return `POINT(${points([value])})`
    if (isPoints(value) && dataType === 'linestring') return `LINESTRING(${points(value)})`
    if (Array.isArray(value) && value.every(isPoints) && dataType === 'polygon') return `POLYGON(${value.map((ring) => `(${points(ring)})`).join(',')})`
    throw new DecodeProblem(`a ${dataType} value that the binlog reader cannot turn back into WKT exactly (only POINT, LINESTRING and POLYGON columns, and points in GEOMETRY columns)`)
  }
}

const SPATIAL = new Set(['geometry', 'point', 'linestring', 'polygon', 'multipoint', 'multilinestring', 'multipolygon', 'geometrycollection', 'geomcollection'])

/** The function that turns one reader value of a column into the canonical value, as `scan` would read it. */
function binlogDecoder(column: MyColumn): ((value: unknown) => Value) | undefined {
  if (SPATIAL.has(column.dataType)) return spatialDecoder(column.dataType)
  // zongji adds 1900 to the stored byte, and YEAR stores 0000 as 0 (its range is otherwise 1901-2155).
  if (column.dataType === 'year') return (value) => (value === 1900 ? 0 : (value as number))
  return column.decode
}

/**
 * A decoder of a table's binlog row images into canonical rows: every
 * column of the image (all of them with `binlog_row_image = FULL`), in
 * table order. A value the canonical model cannot hold is a RecordError
 * naming the entity, the key and the field, as in a scan.
 */
export function binlogRowDecoder(table: MyTable, keys: readonly string[]): (image: Record<string, unknown>) => Row {
  const columns = [...table.columns.values()].map((column) => ({ name: column.field.name, column, decode: binlogDecoder(column) }))
  return (image) => {
    const row: Row = {}
    for (const { name, column, decode } of columns) {
      if (!(name in image)) continue
      const value = image[name]
      if (value === null || value === undefined) {
        row[name] = null
        continue
      }
      try {
        row[name] = decode ? decode(value) : (value as Value)
      } catch (error) {
        if (!(error instanceof DecodeProblem)) throw error
        throw new RecordError(
          'VALUE_REJECTED',
          'data',
          `Entity '${table.info.name}' has a change (${describeKey(keys, image as Row)}) whose field ${name} (${column.field.nativeType}) cannot be read exactly: ${error.message}. Fix the value in the table, or leave the field out of the mapping.`,
          { cause: error, details: { entity: table.info.name, field: name } },
        )
      }
    }
    return row
  }
}
