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
    load: () => import('../budget-show.js'),
  },
  {
    path: ['costs', 'reconcile'],
    summary: "compare the cluster's billed GPU time with the cost records, job by job",
    options: [month, json],
    help:
      'Lists jobs whose cost records differ from what the cluster billed, and cluster jobs that no platform job owns.\n' +
      'Exit 1 when the drift passes 1 % of the month\'s spend or any billed time is unowned. The daemon runs it daily (alert cost-drift).',
    load: () => import('../costs-reconcile.js'),
  },
  {
    path: ['limits', 'show'],
    summary: "users' jobs used of their monthly limit, and the next reset",
    options: [{ flags: '--user <id>', description: 'only this user' }, json],
    help: 'Months begin at midnight on the 1st in limits.timezone (UTC by default).',
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
    load: () => import('../limits-set.js'),
  },
]
