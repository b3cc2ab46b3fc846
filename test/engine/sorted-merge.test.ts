/**
 * The full-sync merge: every key of either side appears once, paired when on
 * both, in byte order; duplicates and out-of-order keys are reported.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { sortedMerge } from '../../src/engine/sorted-merge.js'
import type { Row } from '../../src/values/canonical.js'
import { compareText } from '../../src/values/compare.js'

async function* batches(rows: Row[], size: number): AsyncGenerator<Row[]> {
  for (let i = 0; i < rows.length; i += size) yield rows.slice(i, i + size)
}

async function collect(left: Row[], right: Row[], leftBatch: number, rightBatch: number, chunk: number) {
  const out: [string | undefined, string | undefined][] = []
  const merge = sortedMerge({ rows: batches(left, leftBatch), keys: ['k'], label: 'left' }, { rows: batches(right, rightBatch), keys: ['k'], label: 'right' }, ['text'], chunk)
  for await (const steps of merge) for (const s of steps) out.push([s.left?.k as string | undefined, s.right?.k as string | undefined])
  return out
}

describe('sortedMerge', () => {
  it('pairs equal keys and keeps byte order for any two key sets and batch sizes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.string({ unit: 'grapheme', maxLength: 4 }), { maxLength: 40 }),
        fc.uniqueArray(fc.string({ unit: 'grapheme', maxLength: 4 }), { maxLength: 40 }),
        fc.integer({ min: 1, max: 7 }),
        fc.integer({ min: 1, max: 7 }),
        fc.integer({ min: 1, max: 9 }),
        async (a, b, la, lb, chunk) => {
          const left = [...a].sort(compareText).map((k) => ({ k }))
          const right = [...b].sort(compareText).map((k) => ({ k }))
          const merged = await collect(left, right, la, lb, chunk)
          const all = [...new Set([...a, ...b])].sort(compareText)
          expect(merged.map(([l, r]) => l ?? r)).toEqual(all)
          for (const [l, r] of merged) {
            const key = (l ?? r)!
            expect(l).toBe(a.includes(key) ? key : undefined)
            expect(r).toBe(b.includes(key) ? key : undefined)
          }
        },
      ),
      { numRuns: 300 },
    )
  })

  it('reports a key that is not unique', async () => {
    await expect(collect([{ k: 'a' }, { k: 'b' }, { k: 'b' }], [], 2, 2, 10)).rejects.toMatchObject({ code: 'KEY_NOT_UNIQUE' })
  })

  it('reports a side whose order differs from byte order', async () => {
    // JavaScript's UTF-16 order puts U+FFFF after an emoji; byte order does not.
    await expect(collect([{ k: '😀' }, { k: '\uffff' }], [], 5, 5, 10)).rejects.toThrow(/order/)
  })
})
