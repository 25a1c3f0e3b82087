import type { CommandSpec } from '../registry.js'
import { dryRun, json, yes } from './common.js'

const month = { flags: '--month <YYYY-MM>', description: 'the month (default: this month, UTC)' }

export const COSTS: CommandSpec[] = [
  {
    path: ['budget', 'show'],
    summary: "the month's budget: recorded, committed by running jobs, remaining, projected",
    options: [month, json],
    help:
      'Committed = the costs recorded in the month + for each initializing or running job the larger of its estimate and its cost so far:\n' +
      'the figure the daemons claim jobs by. Projected is the end-of-month spend at the month\'s daily rate. A chart of daily spend on a terminal.',
    examples: [
      'lora budget show',
      'lora budget show --month 2026-03 --json',
    ],
    load: () => import('../budget-show.js'),
  },
  {
    path: ['costs', 'reconcile'],
    summary: "compare the cluster's billed GPU time with the cost records, job by job",
    options: [month, json],
    help:
      'Lists jobs whose cost records differ from what the cluster billed, and cluster jobs that no platform job owns.\n' +
      'Exit 1 when the drift passes 1 % of the month\'s spend or any billed time is unowned. The daemon runs it daily (alert cost-drift).',
    examples: [
      'lora costs reconcile',
      'lora costs reconcile --month 2026-03 --json',
    ],
    load: () => import('../costs-reconcile.js'),
  },
  {
    path: ['limits', 'show'],
    summary: "users' jobs used of their monthly limit, and the next reset",
    options: [{ flags: '--user <id>', description: 'only this user' }, json],
    help: 'Months begin at midnight on the 1st in limits.timezone (UTC by default).',
    examples: [
      'lora limits show',
      'lora limits show --user 6f1c2b9e-3a4d-4e5f-8a7b-9c0d1e2f3a4b --json',
    ],
    load: () => import('../limits-show.js'),
  },
  {
    path: ['limits', 'set'],
    summary: "set one user's monthly job limit (audited)",
    options: [
      { flags: '--user <id>', description: 'the user (a UUID)' },
      { flags: '--monthly <n>', description: 'the new limit: a whole number of jobs, 0 or more' },
      dryRun,
      yes,
      json,
    ],
    help: 'On a terminal it asks first; otherwise it needs --yes. A user with no limits row gets one. Written to the audit log.',
    examples: [
      'lora limits set --user 6f1c2b9e-3a4d-4e5f-8a7b-9c0d1e2f3a4b --monthly 20 --dry-run',
      'lora limits set --user 6f1c2b9e-3a4d-4e5f-8a7b-9c0d1e2f3a4b --monthly 20 --yes',
    ],
    load: () => import('../limits-set.js'),
  },
]
