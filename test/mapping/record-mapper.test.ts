import { describe, expect, it } from 'vitest'
import { PlanError, RecordError } from '../../src/errors.js'
import { createRecordMapper, type RecordMapperInput } from '../../src/mapping/record-mapper.js'
import { TransformError } from '../../src/mapping/transform/index.js'
import type { SyncPlan } from '../../src/plan/schema.js'
import { entity, field } from './entities.js'

const customer = entity(
  'Customer',
  [
    field('CustomerId', 'integer', { nullable: false }),
    field('Name', 'text', { maxLength: 80, nativeType: 'varchar(80)' }),
    field('FullName', 'text'),
    field('Country', 'text'),
    field('Balance', 'decimal', { precision: 12, scale: 2 }),
    field('CreatedAt', 'timestamp'),
    field('UpdatedAt', 'timestamp'),
    field('Secret', 'text'),
  ],
  ['CustomerId'],
)

const customers = entity('public.customers', [
  field('customer_id', 'integer', { nullable: false }),
  field('customer_name', 'text', { maxLength: 5, nativeType: 'varchar(5)' }),
  field('first_name', 'text'),
  field('country', 'text'),
  field('balance', 'decimal', { precision: 6, scale: 2, nativeType: 'numeric(6,2)' }),
  field('created_at', 'text'),
  field('label', 'text'),
  field('secret', 'text'),
])

function mapping(fields: SyncPlan['mapping']['fields'] = [], extra: Partial<SyncPlan['mapping']> = {}): SyncPlan['mapping'] {
  return { auto: true, fields, exclude: [], ...extra }
}

function planError(input: RecordMapperInput): PlanError {
  try {
    createRecordMapper(input)
  } catch (error) {
    expect(error).toBeInstanceOf(PlanError)
    return error as PlanError
  }
  throw new Error('expected a PlanError')
}

const row = {
  CustomerId: 42,
  Name: 'Ada',
  FullName: 'Ada King Lovelace',
  Country: 'uk',
  Balance: '12.50',
  CreatedAt: '2026-01-02T03:04:05.123456Z',
  UpdatedAt: '2026-01-03T00:00:00.000000Z',
  Secret: 's3cret',
}

describe('createRecordMapper into an existing destination', () => {
  const mapper = createRecordMapper({
    mapping: mapping(
      [
        { source: 'Name', destination: 'customer_name' },
        { source: 'FullName', destination: 'first_name', transform: "SPLIT(' ', 0)" },
        { destination: 'label', transform: "CONCAT(UPPER(Country), '-', CustomerId)" },
      ],
      { exclude: ['secret'] },
    ),
    keys: ['CustomerId'],
    source: customer,
    destination: customers,
    extraSourceFields: ['UpdatedAt'],
  })

  it('auto-maps same-named fields and applies explicit ones, in order', () => {
    expect(mapper.fields.map((f) => [f.source ?? null, f.destination, f.transform ?? null])).toEqual([
      ['CustomerId', 'customer_id', null],
      ['Country', 'country', null],
      ['Balance', 'balance', null],
      ['CreatedAt', 'created_at', null],
      ['Name', 'customer_name', null],
      ['FullName', 'first_name', "SPLIT(' ', 0)"],
      [null, 'label', "CONCAT(UPPER(Country), '-', CustomerId)"],
    ])
    expect(mapper.destinationKeys).toEqual(['customer_id'])
  })

  it('reads keys first, then every needed source field in source order, extras included', () => {
    expect(mapper.sourceFields).toEqual(['CustomerId', 'Name', 'FullName', 'Country', 'Balance', 'CreatedAt', 'UpdatedAt'])
  })

  it("describes each field with the destination's type", () => {
    expect(mapper.fields.find((f) => f.destination === 'created_at')).toMatchObject({ type: 'text', sourceType: 'timestamp' })
    expect(mapper.fields.find((f) => f.destination === 'balance')).toMatchObject({ type: 'decimal', precision: 6, scale: 2 })
  })

  it('maps a row, converting to the destination types', () => {
    expect(mapper.map(row)).toEqual({
      customer_id: 42,
      country: 'uk',
      balance: '12.50',
      created_at: '2026-01-02T03:04:05.123456Z',
      customer_name: 'Ada',
      first_name: 'Ada',
      label: 'UK-42',
    })
  })

  it('rejects a value the destination field cannot hold, naming the field', () => {
    const tooLong = (() => {
      try {
        mapper.map({ ...row, Name: 'Adelaide' })
      } catch (error) {
        return error as RecordError
      }
    })()
    expect(tooLong).toBeInstanceOf(RecordError)
    expect(tooLong?.code).toBe('VALUE_REJECTED')
    expect(tooLong?.failure).toBe('data')
    expect(tooLong?.message).toContain("Field 'customer_name' (varchar(5))")
    expect(tooLong?.message).toContain('value of 8 characters is longer than varchar(5) allows (5)')
    // Five code points fit even though they are ten UTF-16 units.
    expect(mapper.map({ ...row, Name: '😀😀😀😀😀' }).customer_name).toBe('😀😀😀😀😀')
    expect(() => mapper.map({ ...row, Balance: '1.005' })).toThrow(/Field 'balance'.*: 1\.005 has 3 digits after the decimal point; .* keeps 2/)
    expect(() => mapper.map({ ...row, Balance: '12345.5' })).toThrow(/Field 'balance'.*: 12345\.5 has 5 digits before the decimal point; .* allows 4/)
    expect(mapper.map({ ...row, Balance: '1234.50' }).balance).toBe('1234.50')
    expect(() => mapper.map({ ...row, CustomerId: null })).toThrow(/Field 'customer_id'.*NOT NULL/)
  })

  it('names the field when a transform fails on a value', () => {
    const explicit = createRecordMapper({
      mapping: { auto: false, exclude: [], fields: [{ source: 'CustomerId', destination: 'customer_id' }, { destination: 'label', transform: 'TEXT(NUMBER(Name))' }] },
      keys: ['CustomerId'],
      source: customer,
      destination: customers,
    })
    expect(explicit.map({ CustomerId: 1, Name: '7' })).toEqual({ customer_id: 1, label: '7' })
    try {
      explicit.map({ CustomerId: 1, Name: 'seven' })
      expect.unreachable()
    } catch (error) {
      expect(error).toBeInstanceOf(TransformError)
      expect((error as TransformError).code).toBe('TRANSFORM_FAILED')
      expect((error as Error).message).toBe("Field 'label': NUMBER failed on 'seven': it is not a number (expected digits such as 42 or -3.5)")
    }
  })

  it('converts lossless values across types: text to integer, integer to decimal, date to timestamp', () => {
    const source = entity('src', [field('id', 'integer'), field('code', 'text'), field('amount', 'integer'), field('day', 'date')], ['id'])
    const destination = entity('dst', [field('id', 'decimal'), field('code', 'integer'), field('amount', 'decimal'), field('day', 'timestamp')])
    const m = createRecordMapper({ mapping: mapping(), keys: ['id'], source, destination })
    expect(m.map({ id: 1, code: '0042', amount: 7, day: '2026-01-02' })).toEqual({ id: '1', code: 42, amount: '7', day: '2026-01-02T00:00:00.000000Z' })
    expect(() => m.map({ id: 1, code: '42.5', amount: 7, day: null })).toThrow(/Field 'code'.*it has a fraction/)
  })
})

describe('createRecordMapper into a destination that will be created', () => {
  it('maps every source field to its own name with the source types, keys NOT NULL', () => {
    const m = createRecordMapper({ mapping: mapping(), keys: ['CustomerId'], source: customer })
    expect(m.fields.map((f) => f.destination)).toEqual(customer.fields.map((f) => f.name))
    expect(m.fields[0]).toEqual({ destination: 'CustomerId', source: 'CustomerId', type: 'integer', sourceType: 'integer', nullable: false })
    expect(m.fields[1]).toMatchObject({ type: 'text', nullable: true, maxLength: 80 })
    expect(m.fields[4]).toMatchObject({ type: 'decimal', precision: 12, scale: 2 })
    expect(m.map(row)).toEqual(row)
  })

  it('renames a field instead of copying it twice, and types a transform by its result', () => {
    const m = createRecordMapper({
      mapping: mapping([
        { source: 'Name', destination: 'name' },
        { destination: 'balance_rounded', transform: 'ROUND(Balance)' },
      ]),
      keys: ['CustomerId'],
      source: customer,
    })
    const names = m.fields.map((f) => f.destination)
    expect(names).toContain('name')
    expect(names).not.toContain('Name')
    expect(m.fields.find((f) => f.destination === 'balance_rounded')).toMatchObject({ type: 'decimal', nullable: true })
    expect(m.map(row)).toMatchObject({ name: 'Ada', balance_rounded: '13' })
  })

  it('lets an explicit field override the auto-mapped one for the same destination', () => {
    const m = createRecordMapper({ mapping: mapping([{ destination: 'Country', transform: 'UPPER(Country)' }]), keys: ['CustomerId'], source: customer })
    expect(m.fields.filter((f) => f.destination === 'Country')).toHaveLength(1)
    expect(m.map(row).Country).toBe('UK')
  })

  it('writes a field called __proto__ as data', () => {
    const source = entity('odd', [field('id', 'integer'), field('__proto__', 'text')], ['id'])
    const m = createRecordMapper({ mapping: mapping(), keys: ['id'], source })
    const out = m.map(JSON.parse('{"id":1,"__proto__":"x"}') as Record<string, string | number>)
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype)
    expect(Object.keys(out)).toEqual(['id', '__proto__'])
    expect(Object.getOwnPropertyDescriptor(out, '__proto__')?.value).toBe('x')
  })
})

describe('createRecordMapper errors', () => {
  it('lists every problem with its path and a suggestion', () => {
    const error = planError({
      mapping: mapping(
        [
          { source: 'Nmae', destination: 'customer_name' },
          { source: 'FullName', destination: 'frist_name' },
          { destination: 'label', transform: "SPLIT(FullName, ' ', 0" },
          { destination: 'country', transform: 'UPPER(Contry)' },
          { destination: 'label', source: 'Name' },
        ],
        { exclude: ['Secrte'] },
      ),
      keys: ['CustomerID'],
      source: customer,
      destination: customers,
    })
    expect(error.code).toBe('PLAN_INVALID')
    expect(error.failure).toBe('config')
    const byPath = Object.fromEntries(error.issues.map((i) => [i.path, i.message]))
    expect(Object.keys(byPath)).toEqual([
      'keys[0]',
      'mapping.exclude[0]',
      'mapping.fields[0].source',
      'mapping.fields[1].destination',
      'mapping.fields[2].transform',
      'mapping.fields[3].transform',
      'mapping.fields[4].destination',
    ])
    expect(byPath['keys[0]']).toBe("unknown key field 'CustomerID' in Customer. Did you mean 'CustomerId'?")
    expect(byPath['mapping.exclude[0]']).toBe("unknown source field 'Secrte' in Customer. Did you mean 'Secret'?")
    expect(byPath['mapping.fields[0].source']).toBe("unknown source field 'Nmae' in Customer. Did you mean 'Name'?")
    expect(byPath['mapping.fields[1].destination']).toBe("unknown destination field 'frist_name' in public.customers. Did you mean 'first_name'?")
    expect(byPath['mapping.fields[2].transform']).toBe(["expected ')' at character 23", "    SPLIT(FullName, ' ', 0", `    ${' '.repeat(22)}^`].join('\n'))
    expect(byPath['mapping.fields[3].transform']).toBe(
      ["unknown field 'Contry' in Customer at character 7. Did you mean 'Country'?", '    UPPER(Contry)', `    ${' '.repeat(6)}^`].join('\n'),
    )
    expect(byPath['mapping.fields[4].destination']).toContain("'label' is already mapped by mapping.fields[2]")
    // The whole message is readable on its own.
    expect(error.message).toContain("  mapping.fields[0].source: unknown source field 'Nmae' in Customer. Did you mean 'Name'?")
  })

  it('lists the fields when no name is close', () => {
    const error = planError({ mapping: mapping([{ source: 'zzzzzzzz', destination: 'x' }]), keys: ['CustomerId'], source: customer })
    expect(error.issues[0]?.message).toBe(`unknown source field 'zzzzzzzz' in Customer; its fields are: ${customer.fields.map((f) => f.name).join(', ')}`)
  })

  it('checks destination fields only when the destination exists', () => {
    const m = createRecordMapper({ mapping: mapping([{ source: 'Name', destination: 'anything_new' }]), keys: ['CustomerId'], source: customer })
    expect(m.fields.map((f) => f.destination)).toContain('anything_new')
  })

  it('reports a wrong argument kind in a transform at its path, with the caret', () => {
    const error = planError({ mapping: mapping([{ destination: 'label', transform: 'ROUND(CreatedAt)' }]), keys: ['CustomerId'], source: customer, destination: customers })
    expect(error.issues).toEqual([
      { path: 'mapping.fields[0].transform', message: ["ROUND needs a number here, but 'CreatedAt' is timestamp at character 7", '    ROUND(CreatedAt)', '          ^'].join('\n') },
    ])
  })

  it('requires key fields to map directly, and says why', () => {
    const viaTransform = planError({
      mapping: mapping([{ source: 'CustomerId', destination: 'customer_id', transform: 'TEXT()' }], { auto: false }),
      keys: ['CustomerId'],
      source: customer,
    })
    expect(viaTransform.issues).toHaveLength(1)
    expect(viaTransform.issues[0]?.path).toBe('keys[0]')
    expect(viaTransform.issues[0]?.message).toContain("key field 'CustomerId' is mapped only through a transform (mapping.fields[0])")
    expect(viaTransform.issues[0]?.message).toContain('in key order')

    const excluded = planError({ mapping: mapping([], { exclude: ['CustomerId'] }), keys: ['CustomerId'], source: customer })
    expect(excluded.issues[0]).toMatchObject({ path: 'keys[0]', message: expect.stringContaining('is in mapping.exclude') })

    const destination = entity('people', [field('person_id', 'integer'), field('name', 'text')])
    const unmatched = planError({ mapping: mapping(), keys: ['CustomerId'], source: customer, destination })
    expect(unmatched.issues[0]?.path).toBe('keys[0]')
    expect(unmatched.issues[0]?.message).toContain("key field 'CustomerId' is not mapped to any destination field")
  })

  it('refuses key fields whose types order differently on the two sides', () => {
    const destination = entity('customers', [field('customer_id', 'text')])
    const error = planError({ mapping: mapping(), keys: ['CustomerId'], source: customer, destination })
    expect(error.issues[0]?.path).toBe('keys[0]')
    expect(error.issues[0]?.message).toContain("'CustomerId' is integer in the source Customer but destination field 'customer_id' is text in the destination customers")
  })

  it('refuses a mapping that can never convert, pointing at the field', () => {
    const source = entity('files', [field('id', 'integer'), field('photo', 'bytes'), field('taken', 'timestamp')], ['id'])
    const destination = entity('photos', [field('id', 'integer'), field('photo', 'text'), field('size', 'integer')])
    const error = planError({ mapping: mapping([{ source: 'taken', destination: 'size' }]), keys: ['id'], source, destination })
    expect(error.issues).toEqual([
      {
        path: 'mapping.auto',
        message: "source field 'photo' is bytes, but destination field 'photo' is text, and there is no conversion from bytes to text; add 'photo' to mapping.exclude or map it with a transform",
      },
      { path: 'mapping.fields[0].destination', message: "source field 'taken' is timestamp, but destination field 'size' is integer, and there is no conversion from timestamp to integer" },
    ])
  })
})
