import { CLEANUP_HELP, cleanupCommand } from '../src/maintenance/command.js'
import { dryRun, json, yes } from '../src/flags.js'

export const { flags, Options, help, examples, run } = cleanupCommand('orphans', {
  flags: { dryRun, yes, json },
  help: `${CLEANUP_HELP}\nJobs submitted in the last 5 minutes are left alone. Exit 1 when an orphan resisted 3 attempts.`,
  examples: ['lora cleanup orphans --dry-run', 'lora cleanup orphans --yes  # from cron'],
})
