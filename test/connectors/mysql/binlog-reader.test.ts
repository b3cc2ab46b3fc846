/**
 * The binlog reader under the change feed: an idle but healthy connection
 * stays open (the server's heartbeats), one the network silently dropped
 * fails instead of waiting forever.
 */
import net from 'node:net'
import { describe, expect, it } from 'vitest'
import { openBinlogReader } from '../../../src/connectors/mysql/binlog-reader.js'
import { binlogEnd } from '../../../src/connectors/mysql/binlog-snapshot.js'
import { MYSQL_URL, hasMysql } from '../../helpers/services.js'
import mysql from 'mysql2/promise'

/** A TCP proxy to the server that can go silent without closing anything, as a broken network does. */
async function silentableProxy(host: string, port: number): Promise<{ port: number; silence(): void; close(): Promise<void> }> {
  const sockets: net.Socket[] = []
  let silent = false
  const server = net.createServer((client) => {
    const upstream = net.connect(port, host)
    sockets.push(client, upstream)
    client.on('data', (data) => silent || upstream.write(data))
    upstream.on('data', (data) => silent || client.write(data))
    client.on('error', () => undefined)
    upstream.on('error', () => undefined)
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as net.AddressInfo).port,
    silence: () => (silent = true),
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}

describe.skipIf(!(await hasMysql()))('MySQL binlog reader', () => {
  it('a healthy idle connection stays open; one the network silently dropped fails within three heartbeats', async () => {
    const url = new URL(MYSQL_URL)
    const proxy = await silentableProxy(url.hostname, Number(url.port || 3306))
    const admin = await mysql.createConnection({ host: url.hostname, port: Number(url.port || 3306), user: decodeURIComponent(url.username) || 'root', password: decodeURIComponent(url.password) })
    const end = await binlogEnd(admin)
    await admin.end()
    const reader = await openBinlogReader({
      connection: { host: '127.0.0.1', port: proxy.port, user: decodeURIComponent(url.username) || 'root', password: decodeURIComponent(url.password) },
      serverId: 1_000_000_000 + Math.floor(Math.random() * 1_000_000),
      file: end.file,
      offset: end.offset,
      schema: 'syncline_no_such_schema',
      table: 'nothing',
      heartbeatSeconds: 1,
    })
    try {
      const first = reader.next()
      first.catch(() => undefined)
      // Items may come (other tests' commits elsewhere move the boundary); an error may not.
      const idle = await Promise.race([
        (async () => {
          for (let item = await first; ; item = await reader.next()) void item
        })().catch((error: unknown) => error),
        new Promise((resolve) => setTimeout(() => resolve('still open'), 4000)),
      ])
      expect(idle).toBe('still open')
      proxy.silence()
      const started = Date.now()
      const error = await (async () => {
        for (;;) await reader.next()
      })().catch((e: unknown) => e as { code?: string })
      expect(error.code).toBe('PROTOCOL_CONNECTION_LOST')
      expect(Date.now() - started).toBeLessThan(6000)
    } finally {
      await reader.close()
      await proxy.close()
    }
  }, 20_000)
})
