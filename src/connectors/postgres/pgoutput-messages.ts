/**
 * The pgoutput protocol (version 1) read off a replication stream: begin,
 * commit, relation, insert, update, delete and truncate messages, with
 * column values kept as the server's text.
 *
 * pg-logical-replication's own pgoutput parser decodes values with pg's
 * global default parsers (timestamptz → Date without microseconds, json
 * parsed into objects) and fills unchanged TOASTed values with `undefined`.
 * This one keeps text, marks unchanged TOASTed values with
 * {@link UNCHANGED_TOAST}, and leaves decoding to pgoutput-values.ts, which
 * uses the connector's canonical parsers. It never throws: it runs inside
 * the socket's data handler, where an exception would crash the process,
 * so a malformed message becomes an `invalid` message.
 *
 * Message formats: https://www.postgresql.org/docs/15/protocol-logicalrep-message-formats.html
 */
import type pg from 'pg'

/** Stands for a TOASTed value the update left unchanged (pgoutput sends `u`, not the value). */
export const UNCHANGED_TOAST: unique symbol = Symbol('unchanged TOAST value')

/** One column's value as sent: text, NULL, or unchanged TOAST. */
export type RawValue = string | null | typeof UNCHANGED_TOAST

/** A relation (table) as the stream describes it; sent before its first change on each connection. */
export interface RelationMessage {
  tag: 'relation'
  oid: number
  schema: string
  name: string
  /** `d` default (primary key), `n` nothing, `f` full, `i` index. */
  replicaIdentity: string
  columns: { name: string; typeOid: number; isKey: boolean }[]
}

/** A message of the stream, values still raw. */
export type PgoutputMessage =
  | { tag: 'begin'; finalLsn: bigint; commitMicros: bigint; xid: number }
  | { tag: 'commit'; commitLsn: bigint; endLsn: bigint; commitMicros: bigint }
  | RelationMessage
  | { tag: 'insert'; relation: number; new: RawValue[] }
  | { tag: 'update'; relation: number; key?: RawValue[]; old?: RawValue[]; new: RawValue[] }
  | { tag: 'delete'; relation: number; key?: RawValue[]; old?: RawValue[] }
  | { tag: 'truncate'; relations: number[] }
  | { tag: 'other' }
  | { tag: 'invalid'; error: Error }

/** Microseconds between the Unix epoch and PostgreSQL's (2000-01-01). */
const POSTGRES_EPOCH_MICROS = 946_684_800_000_000n

const text = new TextDecoder()

class Reader {
  #at = 0
  constructor(private readonly buf: Buffer) {}
  u8(): number {
    return this.buf.readUInt8(this.#at++)
  }
  i16(): number {
    const v = this.buf.readInt16BE(this.#at)
    this.#at += 2
    return v
  }
  i32(): number {
    const v = this.buf.readInt32BE(this.#at)
    this.#at += 4
    return v
  }
  u64(): bigint {
    const v = this.buf.readBigUInt64BE(this.#at)
    this.#at += 8
    return v
  }
  string(): string {
    const end = this.buf.indexOf(0, this.#at)
    if (end < 0) throw new Error('unterminated string')
    const s = text.decode(this.buf.subarray(this.#at, end))
    this.#at = end + 1
    return s
  }
  tuple(): RawValue[] {
    const count = this.i16()
    const values = new Array<RawValue>(count)
    for (let i = 0; i < count; i++) {
      const kind = this.u8()
      if (kind === 0x6e /* n */) values[i] = null
      else if (kind === 0x75 /* u */) values[i] = UNCHANGED_TOAST
      else if (kind === 0x74 /* t */) {
        const length = this.i32()
        if (this.#at + length > this.buf.length) throw new Error('value runs past the message')
        values[i] = text.decode(this.buf.subarray(this.#at, (this.#at += length)))
      } else throw new Error(`unexpected tuple value kind ${String.fromCharCode(kind)}`)
    }
    return values
  }
}

/** Decode one pgoutput message (the XLogData payload). */
export function parsePgoutput(buf: Buffer): PgoutputMessage {
  try {
    const r = new Reader(buf)
    const tag = r.u8()
    switch (tag) {
      case 0x42 /* B */:
        return { tag: 'begin', finalLsn: r.u64(), commitMicros: r.u64() + POSTGRES_EPOCH_MICROS, xid: r.i32() >>> 0 }
      case 0x43 /* C */: {
        r.u8() // flags, unused
        return { tag: 'commit', commitLsn: r.u64(), endLsn: r.u64(), commitMicros: r.u64() + POSTGRES_EPOCH_MICROS }
      }
      case 0x52 /* R */: {
        const oid = r.i32() >>> 0
        const schema = r.string()
        const name = r.string()
        const replicaIdentity = String.fromCharCode(r.u8())
        const count = r.i16()
        const columns: RelationMessage['columns'] = []
        for (let i = 0; i < count; i++) {
          const flags = r.u8()
          const column = r.string()
          const typeOid = r.i32() >>> 0
          r.i32() // type modifier
          columns.push({ name: column, typeOid, isKey: (flags & 1) === 1 })
        }
        return { tag: 'relation', oid, schema, name, replicaIdentity, columns }
      }
      case 0x49 /* I */: {
        const relation = r.i32() >>> 0
        r.u8() // 'N'
        return { tag: 'insert', relation, new: r.tuple() }
      }
      case 0x55 /* U */: {
        const relation = r.i32() >>> 0
        let kind = r.u8()
        let key: RawValue[] | undefined
        let old: RawValue[] | undefined
        if (kind === 0x4b /* K */) key = r.tuple()
        else if (kind === 0x4f /* O */) old = r.tuple()
        if (kind !== 0x4e /* N */) kind = r.u8()
        if (kind !== 0x4e) throw new Error('update without a new tuple')
        return { tag: 'update', relation, ...(key ? { key } : {}), ...(old ? { old } : {}), new: r.tuple() }
      }
      case 0x44 /* D */: {
        const relation = r.i32() >>> 0
        const kind = r.u8()
        const tuple = r.tuple()
        return kind === 0x4f /* O */ ? { tag: 'delete', relation, old: tuple } : { tag: 'delete', relation, key: tuple }
      }
      case 0x54 /* T */: {
        const count = r.i32()
        r.u8() // options
        const relations: number[] = []
        for (let i = 0; i < count; i++) relations.push(r.i32() >>> 0)
        return { tag: 'truncate', relations }
      }
      default:
        // Origin, Type and logical Message carry nothing a feed delivers.
        return { tag: 'other' }
    }
  } catch (error) {
    return { tag: 'invalid', error: error instanceof Error ? error : new Error(String(error)) }
  }
}

/**
 * The output plugin object pg-logical-replication's service asks for:
 * `START_REPLICATION` with pgoutput version 1 on one publication, and
 * {@link parsePgoutput} for every message.
 */
export class PgoutputTextPlugin {
  readonly name = 'pgoutput'
  constructor(readonly options: { publication: string }) {}

  start(client: pg.Client, slot: string, lastLsn: string): Promise<unknown> {
    // Names are [a-z0-9_] (consumer names are validated), so they need no quoting inside the option.
    return client.query(`START_REPLICATION SLOT "${slot}" LOGICAL ${lastLsn} (proto_version '1', publication_names '${this.options.publication}')`)
  }

  parse(buffer: Buffer): PgoutputMessage {
    return parsePgoutput(buffer)
  }
}
