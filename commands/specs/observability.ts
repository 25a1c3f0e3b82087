import type { CommandSpec } from '../registry.js'

export const OBSERVABILITY: CommandSpec[] = [
  { path: ['metrics'], summary: 'platform metrics: jobs, datasets, cost, storage, errors, users', args: '[section]' },
  { path: ['health'], summary: 'check the platform; exit 1 when a check reaches --fail-on' },
  { path: ['alerts', 'list'], summary: 'list firing and recent alerts' },
  { path: ['alerts', 'silence'], summary: 'silence an alert rule for a while', args: '<rule>' },
  { path: ['alerts', 'test'], summary: 'send a test alert to a sink', args: '<sink>' },
  { path: ['alerts', 'evaluate'], summary: 'evaluate the alert rules once' },
]
