import { defineConfig } from 'vitest/config'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { buildSync } from 'esbuild'
import { PATCHED_DRIVER, patchDriverConnection } from './scripts/driver-patch.mjs'

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as { version: string }

// The validation worker thread runs a script of its own, which Node cannot load as
// TypeScript: built here from the source at every test run, as the build does.
const validateWorker = new URL('./node_modules/.cache/lora/validate-worker.mjs', import.meta.url)
buildSync({ entryPoints: [fileURLToPath(new URL('./src/datasets/validate-worker.ts', import.meta.url))], outfile: fileURLToPath(validateWorker), bundle: true, format: 'esm', platform: 'node', target: 'node20', logLevel: 'warning' })

export default defineConfig({
  plugins: [
    {
      // Migrations are imported as text, as the esbuild bundle does.
      name: 'sql-as-text',
      transform(code, id) {
        if (id.endsWith('.sql')) return { code: `export default ${JSON.stringify(code)}`, map: null }
        return undefined
      },
    },
    {
      // The tests run the postgres driver with the fix the build applies.
      name: 'driver-fix',
      transform(code, id) {
        if (PATCHED_DRIVER.file.test(id.split('?')[0]!)) return { code: patchDriverConnection(code, id), map: null }
        return undefined
      },
    },
  ],
  define: { LORA_VERSION: JSON.stringify(pkg.version), LORA_VALIDATE_WORKER: JSON.stringify(validateWorker.href) },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    setupFiles: ['test/helpers/setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // A worker runs one file after another in one process, its modules loaded once:
    // PGlite's WebAssembly compiled once, and the test databases (test/helpers/db.ts)
    // emptied and handed from one file to the next instead of loaded for each. What
    // lora keeps per process is reset before each file (test/helpers/setup.ts); what
    // a file leaves behind cannot reach the next: a closed test database refuses
    // every use, and every child process is stopped in the file's own hooks.
    isolate: false,
    // The workers run PGlite in-process, optimized as the local service runs it (src/launch.ts).
    poolOptions: { forks: { execArgv: ['--wasm-tiering-budget=18000000'] } },
    // Three workers on the two cores CI runs on. Measured on 2 cores (vitest alone):
    // isolated files, 325 s of CPU and 219 s with three workers; not isolated, 258 s of
    // CPU and 144 s with three, 160 s with four (then the cores are the limit).
    maxWorkers: 3,
    // As many as at most: a worker the pool ended as idle while it still held the
    // run's files made the run fail at its end ("Terminating worker thread") and left
    // the process running.
    minWorkers: 3,
    // The driver is transformed (its fix applied) rather than loaded as it is.
    server: { deps: { inline: [PATCHED_DRIVER.name] } },
    reporters: ['default'],
  },
})
