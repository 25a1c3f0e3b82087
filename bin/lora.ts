// The ES module entry (dist/lora.js): bin/lora starts it when there is no startup
// snapshot for this Node, and for the fast paths, which load nothing but this file.
import { launch } from '../src/launch.js'

await launch(process.argv.slice(2), {
  prerenderedHelp: async () => {
    const { readFileSync } = await import('node:fs')
    return readFileSync(new URL('./help.txt', import.meta.url), 'utf8')
  },
  loadMain: async () => (await import('../src/cli.js')).main,
  crashReport: async () => (await import('../src/cli.js')).crashReport,
})
