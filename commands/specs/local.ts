import type { CommandSpec } from '../registry.js'
import { json } from './common.js'

export const LOCAL: CommandSpec[] = [
  {
    path: ['local', 'start'],
    summary: 'hold the embedded stack in the foreground and serve it to other lora commands',
    options: [json],
    load: () => import('../local-start.js'),
  },
]
