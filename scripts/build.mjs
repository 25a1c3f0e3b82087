// Bundles the CLI with esbuild. Packages stay external, so that a subcommand's
// heavy dependencies (drivers, SDKs, prompts) load only when it runs; code
// splitting keeps each subcommand's code in its own chunk, loaded on first use.
import { build } from 'esbuild'
import { readFile, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { PATCHED_DRIVER, patchDriverConnection } from './driver-patch.mjs'
import { ONE_COMMONJS_FILE, buildSnapshot } from './snapshot.mjs'

const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8'))
const entries = process.argv.slice(2)

function externalExcept(bundled) {
  return {
    name: 'external-packages',
    setup(b) {
      // `#name` is a package's own subpath import (chalk's vendored modules): resolved
      // by esbuild inside the bundled package, never an external of lora's.
      b.onResolve({ filter: /^[^./#]/ }, (args) => {
        const name = args.path.startsWith('@') ? args.path.split('/').slice(0, 2).join('/') : args.path.split('/')[0]
        if (bundled.includes(name)) return undefined
        return { path: args.path, external: true }
      })
    },
  }
}

// The postgres driver is bundled (into the chunk of the code that opens a database,
// loaded on first use) so that the shipped binary carries the driver fix.
const driverFix = {
  name: 'driver-fix',
  setup(b) {
    b.onLoad({ filter: PATCHED_DRIVER.file }, async (args) => ({
      contents: patchDriverConnection(await readFile(args.path, 'utf8'), args.path),
      loader: 'js',
    }))
  },
}

// zod's namespace carries every message locale (about 40% of its code); lora speaks
// English only, so the bundle keeps `en` alone: less to parse on every start.
const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(b) {
    b.onResolve({ filter: /\/locales\/index\.js$/ }, (args) =>
      /[\\/]node_modules[\\/]zod[\\/]/.test(args.importer) ? { path: 'zod-locales', namespace: 'zod-locales', pluginData: join(args.resolveDir, dirname(args.path)) } : undefined,
    )
    b.onLoad({ filter: /.*/, namespace: 'zod-locales' }, (args) => ({
      contents: "export { default as en } from './en.js'\n",
      resolveDir: args.pluginData,
      loader: 'js',
    }))
  },
}

// Which build this is: the local service runs commands only for the lora that built it (src/local-commands.ts).
const buildId = `${pkg.version}+${Date.now().toString(36)}.${Math.random().toString(36).slice(2, 8)}`
const define = { LORA_VERSION: JSON.stringify(pkg.version), LORA_BUILD: JSON.stringify(buildId), LORA_VALIDATE_WORKER: JSON.stringify('./validate-worker.js') }
await rm(new URL('../dist', import.meta.url), { recursive: true, force: true })
await build({
  entryPoints: {
    lora: 'bin/lora.ts',
    // The validation worker thread, beside the chunks that start it (src/datasets/pool.ts).
    'chunks/validate-worker': 'src/datasets/validate-worker.ts',
    ...Object.fromEntries(entries.map((e) => [e.replace(/\.ts$/, ''), e])),
  },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Everything from node_modules stays external (loaded on first use) except what
  // nearly every run needs, the argument parser and zod: bundled, they cost no
  // module resolution (zod alone is about a hundred files); and the postgres driver,
  // which carries a fix (scripts/driver-patch.mjs). chalk too: every command's IO
  // builds its colour scheme, and resolving the package costs more than parsing it.
  plugins: [externalExcept(['commander', 'zod', 'chalk', PATCHED_DRIVER.name]), driverFix, zodEnglishOnly],
  sourcemap: 'linked',
  chunkNames: 'chunks/[name]-[hash]',
  define,
  loader: { '.sql': 'text' },
  // Bundled CommonJS (commander) requires Node built-ins.
  banner: { js: "import { createRequire as __loraCreateRequire } from 'node:module'; const require = __loraCreateRequire(import.meta.url);" },
  logLevel: 'warning',
})

// The client of the local service's command socket (bin/forward.ts): Node's own
// modules only, one CommonJS file, so that it starts as fast as Node does.
await build({
  entryPoints: { forward: 'bin/forward.ts' },
  ...ONE_COMMONJS_FILE,
  define,
  logLevel: 'warning',
})

// The root help, rendered once by the real program at build time: `lora --help`
// piped or on an 80-column terminal prints it without loading the parser.
const { execFileSync } = await import('node:child_process')
const { writeFile } = await import('node:fs/promises')
const help = execFileSync(process.execPath, ['dist/lora.js', '--help', '--no-prerendered-help'], {
  env: { ...process.env, COLUMNS: '80', NO_COLOR: '1' },
  encoding: 'utf8',
})
await writeFile(new URL('../dist/help.txt', import.meta.url), help)

// The startup snapshot: without it (a Node that cannot build one) lora runs the same
// program from dist/lora.js, only slower to start.
const noSnapshot = await buildSnapshot({ plugins: [driverFix, zodEnglishOnly], define })
if (noSnapshot) console.warn(`lora: no startup snapshot (${noSnapshot}); commands start from dist/lora.js.`)
