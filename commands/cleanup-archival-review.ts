import { cleanupCommand, cleanupFlags } from '../src/maintenance/command.js'
import { json } from '../src/flags.js'

export const { flags, Options, examples, run } = cleanupCommand('archival-review', {
  flags: { unusedFor: cleanupFlags.unusedFor, json },
  examples: ['lora cleanup archival-review', 'lora cleanup archival-review --unused-for 3mo --json'],
})
