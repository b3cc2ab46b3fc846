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
import { readFileSync, rmSync } from 'node:fs'
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

/**
 * Start-up costs of bundled packages that the command never needs, cut at
 * bundle time. Each fails the build when its text is gone (the package
 * changed: look again rather than ship the cost unnoticed).
 */
const trimmed = {
  name: 'start-up-trims',
  setup(build) {
    // zod's namespaces re-export its 64 locales, 400 KB parsed at every start; the messages stay
    // English, which zod's schemas set from locales/en.js themselves. (`z.locales` is then empty.)
    build.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) => (/node_modules[\\/]zod[\\/]/.test(args.importer) ? { path: 'zod-locales', namespace: 'trimmed' } : undefined))
    build.onLoad({ filter: /.*/, namespace: 'trimmed' }, () => ({ contents: 'export {}', loader: 'js' }))
    // pg asks whether it runs in a Cloudflare Worker by building a fetch Response; on Node 20 (no
    // `navigator`) that loads undici and with it http, http2, tls, zlib and worker_threads, ~30 ms
    // before the first connection. The command runs only on Node.
    build.onLoad({ filter: /node_modules[\\/]pg[\\/]lib[\\/]stream\.js$/ }, (args) => {
      const source = readFileSync(args.path, 'utf8')
      const probe = "if (typeof Response === 'function') {"
      if (!source.includes(probe)) throw new Error(`bundle-cli: ${args.path} no longer probes for Cloudflare with a Response; see the start-up-trims plugin`)
      return { contents: source.replace(probe, 'if (false) {'), loader: 'js' }
    })
  },
}

// Chunk names carry a content hash: the previous build's would pile up.
rmSync(join(outdir, 'chunks'), { recursive: true, force: true })
await build({
  // The SQLite export's second reader runs in a worker thread, from a file of its own (package.json
  // exports it as syncline/sqlite-export-worker, which the library's modules find too).
  entryPoints: [join(root, 'src/cli/index.ts'), { in: join(root, 'src/connectors/sqlite/export-worker.ts'), out: 'sqlite-export-worker' }],
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
  plugins: [trimmed],
})
