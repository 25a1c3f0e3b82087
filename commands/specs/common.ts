import type { OptionSpec } from '../registry.js'

export const json: OptionSpec = { flags: '--json', description: 'print JSON (stable field names)' }
export const yes: OptionSpec = { flags: '-y, --yes', description: 'do not ask for confirmation (required without a terminal)' }
export const dryRun: OptionSpec = { flags: '--dry-run', description: 'show exactly what would change, change nothing' }
