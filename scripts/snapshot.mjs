// The startup snapshot of lora (dist/lora.blob): the whole program bundled into one
// CommonJS file (bin/snapshot.ts), run once by this Node with the frequent commands'
// code initialized, its heap saved. bin/lora starts from it when it was built by the
// same Node binary, and from the module entry (dist/lora.js) otherwise: a snapshot
// only loads into the exact Node that made it.
//
// Inside a snapshot there is no `import()` and `require` reaches only Node's
// built-ins, so what the frequent commands use is bundled; PGlite (its WebAssembly
// files sit beside its code), undici (it compiles WebAssembly as it loads, which a
// snapshot cannot hold) and the packages only a few commands use are required from
// node_modules, through their CommonJS entries, when first used. Built-in modules that a
// snapshot cannot hold yet (sockets, TLS, terminals, child processes) are reached
// through stand-ins that load the real module on first use.
import { build } from 'esbuild'
import { execFileSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { readFile, rm, stat, utimes, writeFile } from 'node:fs/promises'

/** Loaded from node_modules when first used, never part of the snapshot. */
const AT_RUN_TIME = ['@electric-sql/pglite', '@supabase/supabase-js', 'undici', 'prom-client', 'pino', 'tus-js-client', 'yaml', '@inquirer/prompts', 'asciichart']
/** Built-in modules whose state cannot be saved in a snapshot on every supported Node. */
const DEFERRED_BUILTINS = /^(node:)?(child_process|tty|tls|net|crypto|dns|http|https|http2|worker_threads|readline|readline\/promises|perf_hooks|dgram|inspector|cluster)$/

const runTimeOnly = {
  name: 'snapshot-run-time',
  setup(b) {
    // `await import('node:fs')` stays an import() in CommonJS: a require() here.
    b.onResolve({ filter: /^node:/ }, (args) =>
      args.kind === 'dynamic-import' && !DEFERRED_BUILTINS.test(args.path) ? { path: args.path, namespace: 'dynamic-builtin' } : undefined,
    )
    b.onLoad({ filter: /.*/, namespace: 'dynamic-builtin' }, (args) => ({ contents: `module.exports = require(${JSON.stringify(args.path)})\n`, loader: 'js' }))
    b.onResolve({ filter: DEFERRED_BUILTINS }, (args) =>
      args.namespace === 'deferred-builtin' ? { path: args.path, external: true } : { path: args.path.replace(/^node:/, ''), namespace: 'deferred-builtin' },
    )
    b.onLoad({ filter: /.*/, namespace: 'deferred-builtin' }, (args) => {
      // The names are known now; each reads the real module on first use.
      const names = Object.getOwnPropertyNames(createRequire(import.meta.url)(`node:${args.path}`))
      const lines = names.map((n) => `Object.defineProperty(exports, ${JSON.stringify(n)}, { enumerable: true, get: () => real()[${JSON.stringify(n)}] })`)
      return { contents: `let loaded\nconst real = () => (loaded ??= require('node:${args.path}'))\n${lines.join('\n')}\n`, loader: 'js' }
    })
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.namespace === 'run-time-package') return undefined
      const name = args.path.startsWith('@') ? args.path.split('/').slice(0, 2).join('/') : args.path.split('/')[0]
      return AT_RUN_TIME.includes(name) ? { path: args.path, namespace: 'run-time-package' } : undefined
    })
    b.onLoad({ filter: /.*/, namespace: 'run-time-package' }, (args) => ({
      contents: `module.exports = globalThis.__loraRequire(${JSON.stringify(args.path)})\n`,
      loader: 'js',
    }))
  },
}

/** esbuild's options for a program in one CommonJS file in dist/ (the snapshot's, the command socket's client). */
export const ONE_COMMONJS_FILE = { outdir: 'dist', outExtension: { '.js': '.cjs' }, bundle: true, format: 'cjs', platform: 'node', target: 'node20' }

/**
 * Builds dist/lora.blob and beside it dist/lora.blob.node, whose modification time is
 * the Node binary's: bin/lora compares the two without starting anything. Returns
 * why there is no snapshot, or null.
 */
export async function buildSnapshot({ plugins, define }) {
  const bundle = 'dist/snapshot.cjs'
  await build({
    entryPoints: { snapshot: 'bin/snapshot.ts' },
    ...ONE_COMMONJS_FILE,
    plugins: [runTimeOnly, ...plugins],
    // Paths are the installation's, known when the snapshot starts (bin/snapshot.ts).
    define: { ...define, 'import.meta.url': '__loraImportMetaUrl' },
    banner: {
      js: "Object.defineProperty(globalThis, '__loraImportMetaUrl', { get: () => require('node:url').pathToFileURL(require('node:path').join(globalThis.__loraRoot ?? require('node:path').join(__dirname, '..'), 'dist', 'chunks', 'snapshot.cjs')).href })",
    },
    loader: { '.sql': 'text' },
    logLevel: 'warning',
    // Less to hold in the snapshot's heap, and to load at every start; names are kept.
    minifyWhitespace: true,
    minifySyntax: true,
  })
  try {
    // An import() left in the bundle would fail only when its command runs.
    const left = (await readFile(bundle, 'utf8')).match(/\bimport\((?!\))[^)]*\)/g)
    if (left) throw new Error(`the bundle still imports ${[...new Set(left)].join(', ')}`)
    execFileSync(process.execPath, ['--snapshot-blob', 'dist/lora.blob', '--build-snapshot', bundle], { stdio: ['ignore', 'ignore', 'pipe'] })
  } catch (error) {
    await rm('dist/lora.blob', { force: true })
    return String(error.stderr || error.message).trim().split('\n').slice(-3).join(' ')
  } finally {
    await rm(bundle, { force: true })
  }
  await writeFile('dist/lora.blob.node', `${process.version} ${process.execPath}\n`)
  try {
    // touch copies the time to the nanosecond; JavaScript's dates stop at the millisecond.
    execFileSync('touch', ['-r', process.execPath, 'dist/lora.blob.node'], { stdio: 'ignore' })
  } catch {
    const node = await stat(process.execPath)
    await utimes('dist/lora.blob.node', node.atime, node.mtime)
  }
  return null
}
