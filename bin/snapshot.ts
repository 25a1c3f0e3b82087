// The entry of lora's startup snapshot (dist/lora.blob, built by scripts/snapshot.mjs).
// Node runs this file once when lora is built, with the code that the most frequent
// commands need already loaded and initialized, and saves the heap; bin/lora then
// starts `node --snapshot-blob dist/lora.blob ROOT ARGS...`, which begins in the
// function below with nothing left to read, compile or initialize.
import { startupSnapshot } from 'node:v8'
import { realpathSync } from 'node:fs'
import { join } from 'node:path'
import { createRequire } from 'node:module'
import { crashReport, main } from '../src/cli.js'
import { launch } from '../src/launch.js'
import { WARM } from './snapshot-warm.js'

declare global {
  // Where lora is installed, known only when the snapshot starts (bin/lora passes it).
  var __loraRoot: string | undefined
  var __loraRequire: NodeRequire | undefined
}

// Loading is all that happens here: nothing that depends on the machine, the
// environment or the terminal may be computed before the snapshot is taken.
// The build fails when one does not load (scripts/snapshot.mjs keeps the module entry then).
void Promise.all(WARM.map((load) => load())).catch((error: unknown) => {
  process.stderr.write(`${String((error as Error)?.stack ?? error)}\n`)
  process.exit(1)
})

startupSnapshot.setDeserializeMainFunction(() => {
  // The installation itself, not a link to it: its node_modules are beside it.
  const entry = realpathSync(join(process.argv[1]!, 'dist', 'lora.js'))
  globalThis.__loraRoot = join(entry, '..', '..')
  // Packages that stay outside the snapshot load from lora's own node_modules.
  globalThis.__loraRequire = createRequire(entry)
  // What a process that lora starts (the local service) runs: the module entry.
  process.argv.splice(1, 1, entry)
  void launch(process.argv.slice(2), { loadMain: async () => main, crashReport: async () => crashReport })
})
