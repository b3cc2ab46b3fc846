/**
 * Bundle the `syncline` command into dist/cli/index.js (run after tsc by
 * `npm run build`; the library, dist/index.js, stays tsc's modules).
 *
 * Why: Node loads an ES module graph file by file (resolve, stat, read,
 * link), and the command's graph was 113 of our files and 95 of zod's (its
 * 64 locales included) before a `run` reached its first query; bundled
 * with its pure-JavaScript dependencies it is one file plus lazily loaded
 * chunks (connectors, `serve`), and starts about a quarter of a second
 * sooner (docs/sync-semantics.md, "Checksum figures"). Packages with
 * native code, worker files or their own loading (better-sqlite3, zongji,
 * mysql2, the daemon's fastify, pino, ws, prom-client, the logical
 * replication client) stay in node_modules and load as before.
 *
 * Usage: node scripts/bundle-cli.mjs
 */
import { rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const outdir = join(root, 'dist/cli')

/** Loaded from node_modules at run time, not bundled (see the file comment); pg's optional peers too. */
const EXTERNAL = [
  'better-sqlite3',
  '@vlasky/zongji',
  'mysql2',
  'fastify',
  '@fastify/websocket',
  'pino',
  'prom-client',
  'ws',
  'pg-logical-replication',
  'pg-native',
  'pg-cloudflare',
]

// Chunk names carry a content hash: the previous build's would pile up.
rmSync(join(outdir, 'chunks'), { recursive: true, force: true })
await build({
  entryPoints: [join(root, 'src/cli/index.ts')],
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: EXTERNAL,
  chunkNames: 'chunks/[name]-[hash]',
  // Bundled CommonJS packages (pg, commander, yaml) call require().
  banner: { js: "import { createRequire as syncline_createRequire } from 'node:module'; const require = syncline_createRequire(import.meta.url);" },
  logLevel: 'warning',
})
