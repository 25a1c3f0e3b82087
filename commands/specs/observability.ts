import type { CommandSpec } from '../registry.js'
import { dryRun, json } from './common.js'

export const OBSERVABILITY: CommandSpec[] = [
  {
    path: ['metrics'],
    summary: 'platform metrics: jobs, datasets, cost, storage, errors, users',
    args: '[section]',
    options: [
      { flags: '--period <period>', description: 'window of every figure: 1h, 24h, 7d or 30d (default: each figure its own)' },
      { flags: '--watch [interval]', description: 'refresh every interval (default 10s) until Ctrl-C' },
      { flags: '--summary', description: 'print the daily summary (yesterday, UTC) instead' },
      json,
    ],
    help: 'Sections: jobs, datasets, cost, storage, errors, users (default: all).',
    examples: [
      'lora metrics',
      'lora metrics jobs --period 24h',
      'lora metrics --summary --json',
    ],
    load: () => import('../metrics.js'),
  },
  {
    path: ['health'],
    summary: 'check the platform; exit 1 when a check reaches --fail-on',
    options: [
      { flags: '--fail-on <level>', description: 'warning or critical: the status that makes the exit code 1', default: 'critical' },
      { flags: '--check <names>', description: 'comma-separated checks to run (default: all)' },
      { flags: '--timeout <duration>', description: 'time each check may take', default: '5s' },
      json,
    ],
    help:
      'Checks: database, schema, buckets, cluster (or cluster:NAME), queue, failed-jobs, stuck-jobs, daemon, orphans, budget, storage.\n' +
      'Exit codes: 0 no check reaches --fail-on; 1 one does; 2 usage or configuration error.',
    examples: [
      'lora health',
      'lora health --fail-on warning --json  # a deploy gate in CI',
      'lora health --check database,queue --timeout 2s',
    ],
    load: () => import('../health.js'),
  },
  {
    path: ['alerts', 'list'],
    summary: 'list firing and recent alerts',
    options: [json],
    examples: [
      'lora alerts list',
      'lora alerts list --json',
    ],
    load: () => import('../alerts-list.js'),
  },
  {
    path: ['alerts', 'silence'],
    summary: 'silence an alert rule for a while',
    args: '<rule>',
    options: [
      { flags: '--for <duration>', description: 'how long, such as 30m or 2h (required)' },
      { flags: '--subject <subject>', description: 'only this subject of the rule: a job id, a cluster name' },
      { flags: '--reason <text>', description: 'why, for the others on call' },
      json,
    ],
    examples: [
      'lora alerts silence stuck-jobs --for 2h --reason "known cluster maintenance"',
      'lora alerts silence training-timeout --for 30m --subject bfc44f88-1111-4000-8000-000000000001',
    ],
    load: () => import('../alerts-silence.js'),
  },
  {
    path: ['alerts', 'test'],
    summary: 'send a test alert to a sink',
    args: '<sink>',
    options: [json],
    help: 'Sinks: log, slack, pagerduty, webhook, alertmanager.',
    examples: [
      'lora alerts test slack',
      'lora alerts test pagerduty --json',
    ],
    load: () => import('../alerts-test.js'),
  },
  {
    path: ['alerts', 'evaluate'],
    summary: 'evaluate the alert rules once',
    options: [dryRun, json],
    examples: [
      'lora alerts evaluate --dry-run',
      'lora alerts evaluate --json',
    ],
    load: () => import('../alerts-evaluate.js'),
  },
]
