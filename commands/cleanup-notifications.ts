import { CLEANUP_HELP, cleanupCommand, cleanupFlags } from '../src/maintenance/command.js'
import { dryRun, json, yes } from '../src/flags.js'

export const { flags, Options, help, examples, run } = cleanupCommand('notifications', {
  flags: { olderThan: cleanupFlags.olderThan, dryRun, yes, json },
  help: CLEANUP_HELP,
  examples: ['lora cleanup notifications --dry-run', 'lora cleanup notifications --older-than 90d --yes --json'],
})
