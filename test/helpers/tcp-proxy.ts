/**
 * A TCP port that refuses connections until a test opens it, then forwards
 * them to a real server: how a test makes a datasource "come back" after a
 * sync's first attempt failed, without touching the server itself.
 */
import { createServer, type Server, type Socket, connect } from 'node:net'

/** A port nothing listens on right now (asked of the OS, then released). */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** A listening proxy; `close()` stops it and drops the connections it forwards. */
export interface TcpProxy {
  port: number
  close(): Promise<void>
}

/** Forward connections on 127.0.0.1:`port` to `target` (host:port). */
export async function startProxy(port: number, target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<Socket>()
  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.host)
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on('close', () => sockets.delete(s))
      s.on('error', () => s.destroy())
    }
    client.pipe(upstream).pipe(client)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', resolve)
  })
  return {
    port,
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
