import type { CommandSpec } from '../registry.js'

export const DATASETS: CommandSpec[] = [
  { path: ['datasets', 'upload'], summary: 'validate and upload a JSONL dataset', args: '<file>' },
  { path: ['datasets', 'list'], summary: 'list datasets' },
  { path: ['datasets', 'show'], summary: 'show one dataset', args: '<id>' },
  { path: ['datasets', 'delete'], summary: 'delete a dataset', args: '<id>' },
]
