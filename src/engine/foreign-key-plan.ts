/**
 * The order of a run's syncs, and which of them write with the
 * destination's foreign key checks off, from the foreign keys between
 * their destination tables.
 *
 * Syncs are nodes, and a destination table referencing another sync's table
 * in the same connection is an edge child → parent. Tarjan's algorithm finds
 * the strongly connected components, emitting each only after every
 * component it references, which is parents-first order. A component of
 * several syncs, or one table referencing itself (employees.manager_id), is a
 * cycle: no order loads it without a row arriving before the row it
 * references (across batches and syncs alike), so with `foreignKeys: auto`
 * its syncs write with checks off and the run checks the keys afterwards.
 */
import type { EntityInfo } from '../values/canonical.js'

/** What the plan needs to know about one sync. */
export interface ForeignKeyNode {
  destination: { name: string }
  destinationEntity: EntityInfo
  /** The sync's `foreignKeys` setting; default `auto`. */
  foreignKeys?: 'auto' | 'defer' | 'check'
}

/** How a run loads tables linked by foreign keys. */
export interface ForeignKeyPlan {
  /** Indexes of the syncs, parents first; plan order among syncs not linked, and within a cycle. */
  order: number[]
  /** Some destination references another's: deletes go in a later children-first pass. */
  linked: boolean
  /** Syncs that write with foreign key checks off (a cycle with `auto`, or `defer`). */
  deferred: Set<number>
  /** Each cycle: the indexes of its syncs, in plan order. */
  cycles: number[][]
}

/** Plan the order and the deferred checks of the given syncs. */
export function planForeignKeys(nodes: readonly ForeignKeyNode[]): ForeignKeyPlan {
  const byEntity = new Map<string, number>()
  nodes.forEach((n, i) => byEntity.set(entityKey(n.destination.name, n.destinationEntity.name), i))
  const parents = nodes.map((n) => {
    const set = new Set<number>()
    for (const fk of n.destinationEntity.foreignKeys) {
      const parent = byEntity.get(entityKey(n.destination.name, fk.references.entity))
      if (parent !== undefined) set.add(parent)
    }
    return set
  })
  const linked = parents.some((set, i) => [...set].some((p) => p !== i))

  const order: number[] = []
  const cycles: number[][] = []
  for (const component of stronglyConnected(parents)) {
    const members = [...component].sort((a, b) => a - b)
    order.push(...members)
    if (members.length > 1 || parents[members[0]!]!.has(members[0]!)) cycles.push(members)
  }
  const inCycle = new Set(cycles.flat())
  const deferred = new Set<number>()
  nodes.forEach((n, i) => {
    const setting = n.foreignKeys ?? 'auto'
    if (n.destinationEntity.foreignKeys.length === 0 || setting === 'check') return
    if (setting === 'defer' || inCycle.has(i)) deferred.add(i)
  })
  return { order, linked, deferred, cycles }
}

function entityKey(connection: string, entity: string): string {
  return `${connection}\u0000${entity}`
}

/**
 * Tarjan's strongly connected components of a graph given as each node's
 * successors; components come out successors first. Iterative, so a long
 * chain of tables cannot overflow the stack.
 */
export function stronglyConnected(successors: readonly ReadonlySet<number>[]): number[][] {
  const index = new Array<number>(successors.length).fill(-1)
  const low = new Array<number>(successors.length).fill(0)
  const onStack = new Array<boolean>(successors.length).fill(false)
  const stack: number[] = []
  const components: number[][] = []
  let next = 0
  for (let root = 0; root < successors.length; root++) {
    if (index[root] !== -1) continue
    const work: { node: number; edges: Iterator<number> }[] = [{ node: root, edges: successors[root]!.values() }]
    index[root] = low[root] = next++
    stack.push(root)
    onStack[root] = true
    while (work.length > 0) {
      const frame = work[work.length - 1]!
      const edge = frame.edges.next()
      if (!edge.done) {
        const to = edge.value
        if (index[to] === -1) {
          index[to] = low[to] = next++
          stack.push(to)
          onStack[to] = true
          work.push({ node: to, edges: successors[to]!.values() })
        } else if (onStack[to]) {
          low[frame.node] = Math.min(low[frame.node]!, index[to]!)
        }
        continue
      }
      work.pop()
      const parent = work[work.length - 1]
      if (parent) low[parent.node] = Math.min(low[parent.node]!, low[frame.node]!)
      if (low[frame.node] === index[frame.node]) {
        const component: number[] = []
        let member: number
        do {
          member = stack.pop()!
          onStack[member] = false
          component.push(member)
        } while (member !== frame.node)
        components.push(component)
      }
    }
  }
  return components
}

/** A sync as `validate --live` explains it: its id, its destination, and how that datasource switches checks off. */
export interface ExplainedNode extends ForeignKeyNode {
  id: string
  /** The connector's `foreignKeyChecksOff` sentence. */
  checksOff?: string
}

/**
 * What a run of these syncs will do about foreign keys, one sentence per
 * line: the order, each cycle and how its checks are switched off, syncs
 * that `defer` or `check`. Empty when no destination references another's
 * table or its own.
 * @example explainForeignKeys(nodes) // ['Syncs into dst run parents first: departments, employees.', '  departments, employees: a foreign key cycle (…) …']
 */
export function explainForeignKeys(nodes: readonly ExplainedNode[]): string[] {
  const plan = planForeignKeys(nodes)
  const edges = (members: readonly number[]) =>
    members.flatMap((i) => {
      const n = nodes[i]!
      return n.destinationEntity.foreignKeys
        .filter((fk) => members.some((m) => nodes[m]!.destinationEntity.name === fk.references.entity && nodes[m]!.destination.name === n.destination.name))
        .map((fk) => `${n.destinationEntity.name} (${fk.fields.join(', ')}) → ${fk.references.entity}`)
    })
  const lines: string[] = []
  if (plan.linked) lines.push(`Foreign keys between destination tables: the syncs run parents first (${plan.order.map((i) => nodes[i]!.id).join(', ')}), and their deletes children first in a later pass.`)
  const explained = new Set<number>()
  for (const cycle of plan.cycles) {
    const ids = cycle.map((i) => nodes[i]!.id).join(', ')
    const kind = cycle.length === 1 ? 'a table that references itself' : 'a foreign key cycle'
    const off = cycle.filter((i) => plan.deferred.has(i))
    const on = cycle.filter((i) => !plan.deferred.has(i))
    let line = `  ${ids}: ${kind} (${edges(cycle).join('; ')}), so no order writes every parent before its children.`
    if (off.length > 0) line += ` ${off.map((i) => nodes[i]!.id).join(', ')} write(s) with ${checksOffText(nodes[off[0]!]!)}; then every foreign key of their tables is checked, and rows that point nowhere fail their sync (FOREIGN_KEY_ORPHANS).`
    if (on.length > 0) line += ` ${on.map((i) => nodes[i]!.id).join(', ')} keep(s) checks on (foreignKeys: check): a row whose parent is not there yet is rejected.`
    lines.push(line)
    cycle.forEach((i) => explained.add(i))
  }
  for (const i of plan.deferred) {
    if (explained.has(i)) continue
    lines.push(`  ${nodes[i]!.id}: foreignKeys: defer: writes with ${checksOffText(nodes[i]!)}; then every foreign key of its table is checked (FOREIGN_KEY_ORPHANS).`)
  }
  return lines
}

function checksOffText(node: ExplainedNode): string {
  return `${node.destination.name}'s foreign key checks off for syncline's own session only${node.checksOff ? ` (${node.checksOff})` : ''}`
}
