import type { CommandSpec } from '../registry.js'
import { json } from './common.js'

export const CONFIG: CommandSpec[] = [
  {
    path: ['config', 'show'],
    summary: 'show the resolved configuration, where each value came from, secrets redacted',
    options: [json],
    examples: [
      'lora config show',
      'lora --profile prod config show --json',
    ],
    load: () => import('../config-show.js'),
  },
  {
    path: ['config', 'check'],
    summary: 'validate the configuration files and environment',
    options: [json],
    examples: [
      'lora config check',
      'lora --profile prod config check --json',
    ],
    load: () => import('../config-check.js'),
  },
]
