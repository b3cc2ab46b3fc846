import { describe, expect, it } from 'vitest'
import { SynclineError } from '../../src/errors.js'
import { compileTransform, parseTransform, TRANSFORM_FUNCTIONS, TransformSyntaxError, transformFieldRefs } from '../../src/mapping/transform/index.js'

/** The TransformSyntaxError `text` raises (fails the test when it parses). */
function syntaxError(text: string, options?: Parameters<typeof parseTransform>[1]): TransformSyntaxError {
  try {
    parseTransform(text, options)
  } catch (error) {
    expect(error).toBeInstanceOf(TransformSyntaxError)
    return error as TransformSyntaxError
  }
  throw new Error(`expected ${text} not to parse`)
}

describe('parseTransform', () => {
  it('reads field references: bare, double-quoted and back-quoted, with escapes', () => {
    const expr = parseTransform('CONCAT(FullName, "Full Name", `Last ``Name`, "a""b", Ñame)')
    expect(transformFieldRefs(expr)).toEqual(['FullName', 'Full Name', 'Last `Name', 'a"b', 'Ñame'])
  })

  it('lists each referenced field once, in order of appearance', () => {
    expect(transformFieldRefs(parseTransform("CONCAT(UPPER(Country), '-', CustomerId, Country)"))).toEqual(['Country', 'CustomerId'])
    expect(transformFieldRefs(parseTransform("'constant'"))).toEqual([])
  })

  it('keeps number literals exact', () => {
    const root = (text: string) => parseTransform(text).root
    expect(root('0.1')).toMatchObject({ kind: 'literal', type: 'decimal', value: '0.1' })
    expect(root('-12.50')).toMatchObject({ kind: 'literal', type: 'decimal', value: '-12.50' })
    expect(root('42')).toMatchObject({ kind: 'literal', type: 'integer', value: 42 })
    expect(root('9007199254740993')).toMatchObject({ kind: 'literal', type: 'integer', value: 9007199254740993n })
    expect(root('1.5e3')).toMatchObject({ kind: 'literal', type: 'decimal', value: '1500' })
    expect(root('.5')).toMatchObject({ kind: 'literal', type: 'decimal', value: '0.5' })
  })

  it("reads text literals with '' escaping, and NULL, TRUE, FALSE in any case", () => {
    expect(parseTransform("'it''s'").root).toMatchObject({ kind: 'literal', type: 'text', value: "it's" })
    expect(parseTransform('null').root).toMatchObject({ kind: 'literal', type: 'null', value: null })
    expect(parseTransform('True').root).toMatchObject({ kind: 'literal', value: true })
    expect(parseTransform('FALSE').root).toMatchObject({ kind: 'literal', value: false })
  })

  it('takes function names in any case', () => {
    expect(parseTransform('upper(Name)').root).toMatchObject({ kind: 'call', name: 'UPPER' })
    expect(parseTransform('Date_Format(At, "p")').root).toMatchObject({ kind: 'call', name: 'DATE_FORMAT' })
  })

  it('reads || chains and parentheses', () => {
    const expr = parseTransform("(First || ' ') || Last")
    expect(expr.root).toMatchObject({ kind: 'concat' })
    expect(transformFieldRefs(expr)).toEqual(['First', 'Last'])
  })

  it('passes the source field as first argument when the transform names no field', () => {
    const expr = parseTransform("SPLIT(' ', 0)", { implicitArgument: 'FullName' })
    expect(transformFieldRefs(expr)).toEqual(['FullName'])
    expect(compileTransform(expr, new Map([['FullName', 'text']])).evaluate({ FullName: 'Ada Lovelace' })).toBe('Ada')
    // A transform that names a field is taken as written.
    expect(transformFieldRefs(parseTransform('UPPER(Other)', { implicitArgument: 'FullName' }))).toEqual(['Other'])
  })

  it('lists the functions', () => {
    expect([...TRANSFORM_FUNCTIONS].sort()).toEqual(
      ['COALESCE', 'CONCAT', 'DATE_FORMAT', 'LOWER', 'NUMBER', 'REPLACE', 'ROUND', 'SPLIT', 'SUBSTR', 'TEXT', 'TRIM', 'UPPER'].sort(),
    )
  })
})

describe('transform syntax errors', () => {
  it('points at the character with a caret', () => {
    const error = syntaxError("SPLIT(FullName, ' ', 0")
    expect(error.code).toBe('TRANSFORM_INVALID')
    expect(error.failure).toBe('config')
    expect(error).toBeInstanceOf(SynclineError)
    expect(error.position).toBe(22)
    expect(error.expression).toBe("SPLIT(FullName, ' ', 0")
    expect(error.message).toBe(["SPLIT(FullName, ' ', 0", `${' '.repeat(22)}^ expected ')' at character 23`].join('\n'))
  })

  it('describes itself as a plan issue: problem, then the expression and the caret', () => {
    expect(syntaxError('UPPER(Name,)').describe('  ')).toBe(
      ["expected a value: a field, 'text', a number, NULL, TRUE, FALSE or a function call at character 12", '  UPPER(Name,)', `  ${' '.repeat(11)}^`].join('\n'),
    )
  })

  it.each([
    ['', 0, 'expected a value'],
    ['UPPER(', 6, "expected a value"],
    ['UPPER(Name', 10, "expected ')'"],
    ['UPPER(Name Other)', 11, "expected ',' or ')' but found 'Other'"],
    ["'unclosed", 0, 'this text is never closed'],
    ['"Full Name', 0, 'this field name is never closed'],
    ['""', 0, 'a quoted field name cannot be empty'],
    ['UPPER(Name) Other', 12, 'after the end of the expression'],
    ['a | b', 2, "unexpected '|'"],
    ['Price * 2', 6, "unexpected character '*'"],
    ['- Name', 2, "expected a number after '-'"],
    ['(Name', 5, "expected ')'"],
    ['UPPER(2fa_code)', 6, 'quote the field: "2fa_code"'],
  ])('%j fails at %i: %s', (text, position, problem) => {
    const error = syntaxError(text)
    expect(error.position).toBe(position)
    expect(error.message).toContain(problem)
  })

  it('points at an unknown function name and suggests the closest one', () => {
    const error = syntaxError("CONCAT(SPLT(FullName, ' ', 0), 'x')")
    expect(error.position).toBe(7)
    expect(error.message).toContain("unknown function 'SPLT'")
    expect(error.message).toContain('Did you mean SPLIT?')
  })

  it('points at the function name on a wrong argument count, with the signature', () => {
    const error = syntaxError("UPPER(SPLIT(FullName, ' '))")
    expect(error.position).toBe(6)
    expect(error.message).toContain('SPLIT takes 3 arguments, got 2')
    expect(error.message).toContain('SPLIT(text, separator, index)')
    expect(syntaxError('ROUND(a, 1, 2)').message).toContain('ROUND takes 1 to 2 arguments, got 3')
    expect(syntaxError('CONCAT()').message).toContain('CONCAT takes at least 1 argument, got 0')
  })

  it('explains the implicit source argument when it makes the count wrong', () => {
    const error = syntaxError("NUMBER('1')", { implicitArgument: 'Price' })
    expect(error.message).toContain("the source field 'Price' is passed first")
  })

  it('puts the caret on the right line of a multi-line transform, with tabs kept', () => {
    const error = syntaxError("CONCAT(\n\tFirst,\n\tLast;)")
    expect(error.message.split('\n')).toEqual(['\tLast;)', '\t    ^ unexpected character \';\' at character 22'])
  })

  it('refuses absurd nesting instead of overflowing the stack', () => {
    const error = syntaxError(`${'UPPER('.repeat(100)}x${')'.repeat(100)}`)
    expect(error.message).toContain('nested more than')
  })
})

describe('transforms never execute code', () => {
  const hostile = [
    "constructor.constructor('return process')()",
    'process.exit(1)',
    "require('child_process')",
    "eval('1+1')",
    "Function('return 1')()",
    '__proto__.polluted',
    "globalThis['process']",
    '`${process.exit(1)}`',
  ]

  it.each(hostile)('%s is a syntax error or an unknown function', (text) => {
    let error: unknown
    try {
      const expr = parseTransform(text)
      compileTransform(expr, new Map([['x', 'text']]))
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(TransformSyntaxError)
    expect(process.exitCode ?? 0).toBe(0)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  it('reads a field called constructor or __proto__ as data, not as a JavaScript property', () => {
    const types = new Map<string, 'text'>([
      ['constructor', 'text'],
      ['__proto__', 'text'],
    ])
    const compiled = compileTransform(parseTransform("CONCAT(constructor, '|', `__proto__`)"), types)
    expect(compiled.evaluate({})).toBe('|')
    expect(compiled.evaluate(JSON.parse('{"constructor":"a","__proto__":"b"}') as Record<string, string>)).toBe('a|b')
  })
})

describe('compileTransform checks', () => {
  const types = new Map([
    ['Name', 'text'],
    ['CreatedAt', 'timestamp'],
    ['Photo', 'bytes'],
  ] as const)

  it('points at an unknown field with a suggestion', () => {
    try {
      compileTransform(parseTransform('UPPER(Nmae)'), types)
      expect.unreachable()
    } catch (error) {
      expect(error).toBeInstanceOf(TransformSyntaxError)
      expect((error as TransformSyntaxError).position).toBe(6)
      expect((error as Error).message).toContain("unknown field 'Nmae'")
      expect((error as Error).message).toContain("Did you mean 'Name'?")
    }
  })

  it('points at an argument of the wrong kind', () => {
    expect(() => compileTransform(parseTransform('ROUND(CreatedAt, 2)'), types)).toThrow(/ROUND needs a number here, but 'CreatedAt' is timestamp/)
    expect(() => compileTransform(parseTransform("DATE_FORMAT(Photo, 'YYYY')"), types)).toThrow(/DATE_FORMAT needs a timestamp or date here/)
    expect(() => compileTransform(parseTransform("SPLIT(Name, ' ', CreatedAt)"), types)).toThrow(/SPLIT needs a whole number here/)
  })

  it('gives each function its documented result type', () => {
    const result = (text: string) => compileTransform(parseTransform(text), types).resultType
    expect(result("SPLIT(Name, ' ', 0)")).toBe('text')
    expect(result('ROUND(1.5)')).toBe('decimal')
    expect(result("NUMBER('1')")).toBe('decimal')
    expect(result('TEXT(CreatedAt)')).toBe('text')
    expect(result('COALESCE(CreatedAt, NULL)')).toBe('timestamp')
    expect(result('COALESCE(1, 2.5)')).toBe('decimal')
    expect(result("COALESCE(CreatedAt, 'never')")).toBe('text')
    expect(result('CreatedAt')).toBe('timestamp')
    expect(result('NULL')).toBe('text')
    expect(result('TRUE')).toBe('boolean')
    expect(result("Name || 'x'")).toBe('text')
  })
})
