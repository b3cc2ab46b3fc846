/**
 * The merge of two streamed (key, hash) sides (key-hash-merge.ts): the keys
 * on one side only, or on both with different hashes, in key order, and a
 * count of the equal pairs, whatever form each side's batches take (keys
 * as values, or as plain numbers in `integers`), however they are cut, and
 * however the differing keys are chunked.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { KeyHashBatch } from '../../src/connectors/connector.js'
import { differingKeyChunks } from '../../src/engine/key-hash-merge.js'

type Pair = [key: number | bigint, hash: number]

/** One side's pairs in batches of `size`, each as plain numbers when `integers` and every key is one, else as values. */
async function* sideOf(pairs: Pair[], size: number, integers: boolean): AsyncGenerator<KeyHashBatch> {
  for (let at = 0; at < pairs.length; at += size) {
    const part = pairs.slice(at, at + size)
    const hashes = Float64Array.from(part.map(([, hash]) => hash))
    if (integers && part.every(([key]) => typeof key === 'number')) yield { keys: [], hashes, integers: Float64Array.from(part.map(([key]) => key as number)) }
    else yield { keys: part.map(([key]) => key), hashes }
  }
}

/** What a merge must find, computed from a map of each side. */
function expected(left: Pair[], right: Pair[]) {
  const l = new Map(left.map(([k, h]) => [BigInt(k), h]))
  const r = new Map(right.map(([k, h]) => [BigInt(k), h]))
  const keys = [...new Set([...l.keys(), ...r.keys()])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  const differing = keys.filter((k) => l.get(k) !== r.get(k)).map((k) => ({ key: k, left: l.has(k), right: r.has(k) }))
  return { differing, equal: keys.length - differing.length }
}

/** A side: unique sorted keys, some past 2^53 (bigints), with small hashes so that equal ones happen. */
const side = fc
  .uniqueArray(fc.oneof(fc.integer({ min: -40, max: 40 }), fc.constantFrom(2n ** 53n + 1n, 2n ** 60n, -(2n ** 53n) - 1n)), { maxLength: 40, selector: (k) => BigInt(k) })
  .chain((keys) => fc.tuple(fc.constant(keys), fc.array(fc.integer({ min: 0, max: 2 }), { minLength: keys.length, maxLength: keys.length })))
  .map(([keys, hashes]) => keys.map((k, i): Pair => [k, hashes[i]!]).sort(([a], [b]) => (BigInt(a) < BigInt(b) ? -1 : 1)))

describe('differingKeyChunks', () => {
  it('finds the differing keys and counts the equal pairs, for batches of values and of plain numbers alike', async () => {
    await fc.assert(
      fc.asyncProperty(side, side, fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 9 }), fc.boolean(), fc.boolean(), async (left, right, leftSize, rightSize, chunk, leftNumbers, rightNumbers) => {
        let equal = 0
        const found: { key: bigint; left: boolean; right: boolean }[] = []
        for await (const keys of differingKeyChunks(sideOf(left, leftSize, leftNumbers), sideOf(right, rightSize, rightNumbers), ['integer'], chunk, (n) => (equal += n))) {
          expect(keys.length).toBeGreaterThan(0)
          expect(keys.length).toBeLessThanOrEqual(chunk)
          for (const d of keys) found.push({ key: BigInt(d.key[0] as number | bigint), left: d.left, right: d.right })
        }
        const want = expected(left, right)
        expect(found).toEqual(want.differing)
        expect(equal).toBe(want.equal)
      }),
      { numRuns: 300 },
    )
  })
})
