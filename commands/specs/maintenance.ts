import type { CommandSpec } from '../registry.js'

export const MAINTENANCE: CommandSpec[] = [
  { path: ['cleanup', 'orphans'], summary: 'cancel cluster jobs the database no longer runs' },
  { path: ['cleanup', 'validation-images'], summary: 'delete validation images past their retention' },
  { path: ['cleanup', 'notifications'], summary: 'delete old read notifications' },
  { path: ['cleanup', 'uploads'], summary: 'retry artifact uploads that failed after training' },
  { path: ['cleanup', 'archival-review'], summary: 'list artifacts unused for months (report only)' },
  { path: ['cleanup', 'all'], summary: 'run every cleanup' },
  { path: ['reset-limits'], summary: "reset users' monthly training counts" },
]
