import { CLEANUP_HELP, cleanupCommand, cleanupFlags } from '../src/maintenance/command.js'
import { dryRun, json, yes } from '../src/flags.js'

export const { flags, Options, help, examples, run } = cleanupCommand('all', {
  flags: {
    olderThan: cleanupFlags.olderThan,
    unusedFor: { ...cleanupFlags.unusedFor, description: 'for the archival review (default 6mo)' },
    dryRun,
    yes,
    json,
  },
  help: CLEANUP_HELP,
  examples: ['lora cleanup all --dry-run', 'lora cleanup all --yes --json  # from cron'],
})
