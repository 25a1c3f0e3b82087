import { CLEANUP_HELP, cleanupCommand, cleanupFlags } from '../src/maintenance/command.js'
import { dryRun, json, yes } from '../src/flags.js'

export const { flags, Options, help, examples, run } = cleanupCommand('validation-images', {
  flags: { olderThan: cleanupFlags.olderThan, dryRun, yes, json },
  help: CLEANUP_HELP,
  examples: ['lora cleanup validation-images --dry-run', 'lora cleanup validation-images --older-than 60d --yes'],
})
