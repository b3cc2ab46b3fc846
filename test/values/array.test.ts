import { describe, expect, it } from 'vitest'
import { decodeInt8 } from '../../src/connectors/postgres/codec.js'
import { arrayElements, arrayFromJson, canonicalArray, enumViolation } from '../../src/values/array.js'
import { formatPgArray, parsePgArray } from '../../src/values/pg-array.js'
import { convertValue } from '../../src/mapping/coerce.js'

const text = (t: string) => t

describe('PostgreSQL array text', () => {
  it('parses quoting, escapes, NULL elements, "NULL" text, spaces and the empty array exactly', () => {
    expect(parsePgArray('{a,"b,c","d\\"e","f\\\\g","{h}"," i ",NULL,null,"NULL",""}', text, 'text')).toBe('["a","b,c","d\\"e","f\\\\g","{h}"," i ",null,null,"NULL",""]')
    expect(parsePgArray('{}', text, 'text')).toBe('[]')
    expect(parsePgArray('{ a , b }', text, 'text')).toBe('["a","b"]')
  })

  it('parses elements with their type: integers beyond 2^53 exactly, booleans, bounds prefixes', () => {
    expect(parsePgArray('{1,-2,9007199254740993,NULL}', decodeInt8, 'integer')).toBe('[1,-2,9007199254740993,null]')
    expect(parsePgArray('[0:1]={t,f}', (t) => t === 't', 'boolean')).toBe('[true,false]')
  })

  it('reads multi-dimensional arrays as nested JSON arrays and writes them back with inner braces', () => {
    expect(parsePgArray('{{1,2},{3,NULL}}', Number, 'integer')).toBe('[[1,2],[3,null]]')
    expect(formatPgArray('[[1,2],[3,null]]', 'integer')).toBe('{{"1","2"},{"3",NULL}}')
  })

  it('refuses malformed text', () => {
    expect(() => parsePgArray('{a', text, 'text')).toThrow(/malformed array literal/)
    expect(() => parsePgArray('{"a}', text, 'text')).toThrow(/unterminated/)
  })

  it('formats every element quoted and escaped, bytes as hex, and round-trips', () => {
    const json = '["a","b,c","d\\"e","f\\\\g",null,"","NULL","[x"]'
    const literal = formatPgArray(json, 'text')
    expect(literal).toBe('{"a","b,c","d\\"e","f\\\\g",NULL,"","NULL","[x"}')
    expect(parsePgArray(literal, text, 'text')).toBe(json)
    expect(formatPgArray(canonicalArray([Buffer.from([0, 255])], 'bytes'), 'bytes')).toBe('{"\\\\x00ff"}')
  })
})

describe('canonical arrays', () => {
  it('spell elements canonically: numbers as JSON numbers, non-finite floats and decimals as strings', () => {
    expect(canonicalArray([1, 2n ** 63n, null], 'integer')).toBe('[1,9223372036854775808,null]')
    expect(canonicalArray([NaN, 1.5, -Infinity], 'float')).toBe('["NaN",1.5,"-Infinity"]')
    expect(canonicalArray(['12.50'], 'decimal')).toBe('["12.50"]')
  })

  it('take JSON arrays into an element type, refusing what does not fit', () => {
    expect(arrayFromJson('[ 1, "2" ]', 'text')).toBe('["1","2"]')
    expect(arrayFromJson('[1, null]', 'integer')).toBe('[1,null]')
    expect(() => arrayFromJson('[1.5]', 'integer')).toThrow(/element 1 \(1.5\) is not an integer/)
    expect(() => arrayFromJson('[[1]]', 'integer')).toThrow(/one-dimensional/)
    expect(() => arrayElements('{"a":1}')).toThrow(/not a JSON array/)
  })

  it('name the allowed values when one is outside an enum', () => {
    expect(enumViolation(['a', null], ['a', 'b'])).toBeUndefined()
    expect(enumViolation(['c'], ['a', 'b'])).toBe("'c' is not one of the allowed values ('a', 'b')")
  })

  it('convert to and from json and text; enums to and from text', () => {
    expect(convertValue('[1, 2]', 'json', 'array')).toBe('[1,2]')
    expect(convertValue('["a"]', 'array', 'json')).toBe('["a"]')
    expect(convertValue('["a"]', 'array', 'text')).toBe('["a"]')
    expect(convertValue(' ["a", null] ', 'text', 'array')).toBe('["a",null]')
    expect(() => convertValue('{"a":1}', 'json', 'array')).toThrow(/not a JSON array/)
    expect(convertValue('happy', 'enum', 'text')).toBe('happy')
    expect(convertValue('happy', 'text', 'enum')).toBe('happy')
    expect(() => convertValue(1, 'integer', 'array')).toThrow(/no conversion/)
  })
})
