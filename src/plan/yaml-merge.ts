/**
 * Write a value into an existing YAML document in place, so the comments,
 * order and quoting of what did not change survive a save (the starter
 * file's comments, a user's notes). New nodes get a compact style.
 */
import { Document, isMap, isScalar, isSeq, type Node, type YAMLMap, type YAMLSeq } from 'yaml'
import { isPlainObject } from './env.js'

type Path = readonly (string | number)[]

/**
 * Make `doc` hold `value`, reusing its nodes wherever the value is unchanged.
 * List items that are mappings with an `id` are matched by id, others by position.
 */
export function mergeIntoDocument(doc: Document, value: unknown): void {
  doc.contents = merge(doc, doc.contents, value, []) as Document['contents']
}

/** A new YAML document for `value`, in the compact style. */
export function newDocument(value: unknown): Document {
  const doc = new Document({})
  mergeIntoDocument(doc, value)
  return doc
}

function merge(doc: Document, node: unknown, value: unknown, path: Path): Node {
  if (isMap(node) && isPlainObject(value)) return mergeMap(doc, node, value, path)
  if (isSeq(node) && Array.isArray(value)) return mergeSeq(doc, node, value, path)
  if (isScalar(node) && !isCollection(value)) {
    if (node.value === value) return node
    if (typeof node.value === typeof value) {
      // Keep the node (and its comment); the writer re-quotes if the old style no longer fits.
      node.value = value
      return node
    }
  }
  const created = create(doc, value, path)
  if (node && typeof node === 'object') {
    const old = node as Node
    if (old.comment) created.comment = old.comment
    if (old.commentBefore) created.commentBefore = old.commentBefore
  }
  return created
}

function mergeMap(doc: Document, node: YAMLMap, value: Record<string, unknown>, path: Path): Node {
  openUpEmptyFlow(node, Object.values(value))
  node.items = node.items.filter((pair) => Object.hasOwn(value, keyOf(pair.key)))
  for (const [key, item] of Object.entries(value)) {
    const pair = node.items.find((p) => keyOf(p.key) === key)
    if (pair) pair.value = merge(doc, pair.value, item, [...path, key])
    else node.items.push(doc.createPair(key, create(doc, item, [...path, key])))
  }
  return node
}

function mergeSeq(doc: Document, node: YAMLSeq, value: unknown[], path: Path): Node {
  openUpEmptyFlow(node, value)
  const old = node.items
  const idOf = (item: unknown): unknown => (isMap(item) ? item.get('id') : undefined)
  node.items = value.map((item, index) => {
    const id = isPlainObject(item) ? item.id : undefined
    const match = id !== undefined ? old.find((o) => idOf(o) === id) : idOf(old[index]) === undefined ? old[index] : undefined
    return match === undefined ? create(doc, item, [...path, index]) : merge(doc, match, item, [...path, index])
  })
  return node
}

/** A new node, in flow style where that reads better: `{ connection: x, entity: y }`, `[id]`. */
function create(doc: Document, value: unknown, path: Path): Node {
  let node: Node
  if (isPlainObject(value)) {
    const map = doc.createNode({}) as YAMLMap
    for (const [key, item] of Object.entries(value)) map.items.push(doc.createPair(key, create(doc, item, [...path, key])))
    node = map
  } else if (Array.isArray(value)) {
    const seq = doc.createNode([]) as YAMLSeq
    seq.items = value.map((item, index) => create(doc, item, [...path, index]))
    node = seq
  } else {
    node = doc.createNode(value) as Node
  }
  const last = path[path.length - 1]
  // `op: "="` as in the docs: a bare = or < reads like a typo.
  if (last === 'op' && isScalar(node)) node.type = 'QUOTE_DOUBLE'
  const parent = path[path.length - 2]
  const flow =
    (isMap(node) && (last === 'source' || last === 'destination')) ||
    (isSeq(node) && (last === 'keys' || last === 'exclude')) ||
    (isMap(node) && typeof last === 'number' && (parent === 'fields' || parent === 'filters'))
  if (flow) (node as YAMLMap | YAMLSeq).flow = true
  return node
}

/** `syncs: []` or `connections: {}` that now holds mappings is written as a block, one entry per line. */
function openUpEmptyFlow(node: YAMLMap | YAMLSeq, items: readonly unknown[]): void {
  if (node.flow && node.items.length === 0 && items.some(isCollection)) node.flow = false
}

function keyOf(key: unknown): string {
  return isScalar(key) ? String(key.value) : String(key)
}

function isCollection(value: unknown): boolean {
  return Array.isArray(value) || isPlainObject(value)
}
