import type { CommandSpec, OptionSpec } from '../registry.js'
import { dryRun, json, yes } from './common.js'

const olderThan: OptionSpec = { flags: '--older-than <duration>', description: 'age past which to delete (default 30d)' }
const common = [dryRun, yes, json]
const cleanupHelp = 'On a terminal it asks first; otherwise it needs --yes. Safe to run twice, from cron, while the daemon runs. Every run is written to the audit log.'

export const MAINTENANCE: CommandSpec[] = [
  {
    path: ['cleanup', 'orphans'],
    summary: 'cancel cluster jobs the database says are finished, does not know, or run past the limit',
    options: common,
    help: `${cleanupHelp}\nJobs submitted in the last 5 minutes are left alone. Exit 1 when an orphan resisted 3 attempts.`,
    examples: [
      'lora cleanup orphans --dry-run',
      'lora cleanup orphans --yes  # from cron',
    ],
    load: () => import('../cleanup-orphans.js'),
  },
  {
    path: ['cleanup', 'validation-images'],
    summary: 'delete validation images past their retention',
    options: [olderThan, ...common],
    help: cleanupHelp,
    examples: [
      'lora cleanup validation-images --dry-run',
      'lora cleanup validation-images --older-than 60d --yes',
    ],
    load: () => import('../cleanup-validation-images.js'),
  },
  {
    path: ['cleanup', 'notifications'],
    summary: 'delete read notifications older than the cut-off, in batches',
    options: [olderThan, ...common],
    help: cleanupHelp,
    examples: [
      'lora cleanup notifications --dry-run',
      'lora cleanup notifications --older-than 90d --yes --json',
    ],
    load: () => import('../cleanup-notifications.js'),
  },
  {
    path: ['cleanup', 'uploads'],
    summary: 'retry artifact uploads that failed after training (3 attempts, then alert)',
    options: common,
    help: 'Exit 1 when an upload failed again.',
    examples: [
      'lora cleanup uploads --dry-run',
      'lora cleanup uploads --yes',
    ],
    load: () => import('../cleanup-uploads.js'),
  },
  {
    path: ['cleanup', 'archival-review'],
    summary: 'list artifacts unused for months, with size and storage cost (report only)',
    options: [{ flags: '--unused-for <duration>', description: 'unused for at least this long (default 6mo)' }, json],
    examples: [
      'lora cleanup archival-review',
      'lora cleanup archival-review --unused-for 3mo --json',
    ],
    load: () => import('../cleanup-archival-review.js'),
  },
  {
    path: ['cleanup', 'all'],
    summary: 'run every cleanup',
    options: [olderThan, { flags: '--unused-for <duration>', description: 'for the archival review (default 6mo)' }, ...common],
    help: cleanupHelp,
    examples: [
      'lora cleanup all --dry-run',
      'lora cleanup all --yes --json  # from cron',
    ],
    load: () => import('../cleanup-all.js'),
  },
  {
    path: ['reset-limits'],
    summary: "reset users' monthly training counts (the 1st of the month, UTC)",
    options: [
      { flags: '--month <YYYY-MM>', description: 'the month to reset into (default: this month)' },
      { flags: '--user <id>', description: 'only this user' },
      dryRun,
      yes,
      { flags: '--force', description: 'reset on a day other than the 1st' },
      json,
    ],
    help: 'Users whose month_reset_date lies in a previous month (or is missing) start again at 0. Running it twice in a month changes nothing.',
    examples: [
      'lora reset-limits --dry-run',
      'lora reset-limits --yes  # the 1st of the month, from cron',
      'lora reset-limits --user 6f1c2b9e-3a4d-4e5f-8a7b-9c0d1e2f3a4b --force --yes',
    ],
    load: () => import('../reset-limits.js'),
  },
]
