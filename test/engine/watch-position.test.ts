/**
 * Watch positions: the consumer and the connector's position survive the
 * round trip exactly, and anything a watch did not hand out (cut short,
 * edited, a realtime sync's consumer) is refused with a message that says
 * what to do instead.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeWatchPosition, encodeWatchPosition, newWatchConsumer } from '../../src/engine/watch-position.js'

describe('watch positions', () => {
  it('round-trip any connector position, and stay shell- and URL-safe', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', minLength: 1 }), (position) => {
        const consumer = newWatchConsumer()
        const encoded = encodeWatchPosition(consumer, position)
        expect(encoded).toMatch(/^watch_[0-9a-f]{8}\.[A-Za-z0-9_-]+$/)
        expect(decodeWatchPosition(encoded)).toEqual({ consumer, position })
      }),
    )
  })

  it('names a new consumer watch_ and 8 hex digits, a different one each time', () => {
    const names = new Set(Array.from({ length: 100 }, newWatchConsumer))
    expect(names.size).toBe(100)
    for (const name of names) expect(name).toMatch(/^watch_[0-9a-f]{8}$/)
  })

  it('refuses what a watch did not hand out', () => {
    const good = encodeWatchPosition('watch_0123abcd', '0/16B3748')
    for (const text of ['', 'watch_0123abcd', 'watch_0123abcd.', good.slice(0, -1) + '=', `${good}!`, 'sync_orders.MC8x', 'WATCH_1.MC8x', 'watch_.MC8x']) {
      expect(() => decodeWatchPosition(text), text).toThrow(expect.objectContaining({ code: 'POSITION_INVALID', failure: 'config' }))
    }
    expect(() => decodeWatchPosition('sync_orders.MC8x')).toThrow(/not a position a watch handed out.*start without --since/)
  })
})
