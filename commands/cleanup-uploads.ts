import { cleanupCommand } from '../src/maintenance/command.js'
import { dryRun, json, yes } from '../src/flags.js'

export const { flags, Options, help, examples, run } = cleanupCommand('uploads', {
  flags: { dryRun, yes, json },
  help: 'Exit 1 when an upload failed again.',
  examples: ['lora cleanup uploads --dry-run', 'lora cleanup uploads --yes'],
})
