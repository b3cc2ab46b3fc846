import { describe, expect, it } from 'vitest'
import { consumerName } from '../../src/engine/consumer-name.js'

describe('consumerName', () => {
  it('is a valid consumer name for any sync id, stable across runs', () => {
    for (const id of ['orders', 'orders-eu', 'a', 'x'.repeat(200), 'Customers_2026-11', '9-lives']) {
      expect(consumerName(id)).toMatch(/^[a-z0-9_]{1,40}$/)
      expect(consumerName(id)).toBe(consumerName(id))
    }
    expect(consumerName('orders-eu')).toMatch(/^sync_orders_eu_[0-9a-f]{6}$/)
  })

  it('keeps ids apart that differ only in - vs _ or beyond the cut', () => {
    expect(consumerName('orders-eu')).not.toBe(consumerName('orders_eu'))
    expect(consumerName(`${'a'.repeat(30)}1`)).not.toBe(consumerName(`${'a'.repeat(30)}2`))
  })
})
