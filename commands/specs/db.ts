import type { CommandSpec } from '../registry.js'
import { json } from './common.js'

export const DB: CommandSpec[] = [
  {
    path: ['db', 'migrate'],
    summary: 'apply the bundled schema migrations (idempotent, safe to run concurrently)',
    options: [json],
    examples: [
      'lora db migrate',
      'lora --database-url postgres://lora@db.internal:5432/lora db migrate --json',
    ],
    load: () => import('../db-migrate.js'),
  },
  {
    path: ['db', 'status'],
    summary: 'show applied migrations and schema drift; exit 1 when behind or drifted',
    options: [json],
    examples: [
      'lora db status',
      'lora db status --json',
    ],
    load: () => import('../db-status.js'),
  },
]
