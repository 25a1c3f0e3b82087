import type { CommandSpec } from '../registry.js'

export const EXPERIENCE: CommandSpec[] = [
  { path: ['demo'], summary: 'a one-minute tour of the whole platform on the embedded stack' },
  { path: ['completion'], summary: 'print shell completion', args: '<shell>' },
]
