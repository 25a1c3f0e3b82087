import type { CommandSpec } from '../registry.js'

export const JOBS: CommandSpec[] = [
  { path: ['jobs', 'submit'], summary: 'submit a training job' },
  { path: ['jobs', 'list'], summary: 'list training jobs' },
  { path: ['jobs', 'show'], summary: 'show one training job', args: '<id>' },
  { path: ['jobs', 'watch'], summary: 'follow a training job live; exit by its final state', args: '<id>' },
  { path: ['jobs', 'cancel'], summary: 'cancel training jobs', args: '<ids...>' },
]
