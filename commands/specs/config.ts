import type { CommandSpec } from '../registry.js'
import { json } from './common.js'

export const CONFIG: CommandSpec[] = [
  {
    path: ['config', 'show'],
    summary: 'show the resolved configuration, where each value came from, secrets redacted',
    options: [json],
    load: () => import('../config-show.js'),
  },
  {
    path: ['config', 'check'],
    summary: 'validate the configuration files and environment',
    options: [json],
    load: () => import('../config-check.js'),
  },
]
