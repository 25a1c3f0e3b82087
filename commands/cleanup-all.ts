import type { z } from 'zod'
import type { Context } from '../src/context.js'
import type { ExitCode } from '../src/errors.js'
import { CLEANUP_HELP, cleanupFlags, runAllCleanups } from '../src/maintenance/command.js'
import { dryRun, json, optionsOf, yes } from '../src/flags.js'

export const flags = {
  olderThan: cleanupFlags.olderThan,
  unusedFor: { ...cleanupFlags.unusedFor, description: 'for the archival review (default 6mo)' },
  dryRun,
  yes,
  json,
}

export const Options = optionsOf(flags)

export const help = CLEANUP_HELP
export const examples = [
  'lora cleanup all --dry-run',
  'lora cleanup all --yes --json  # from cron',
]

export function run(opts: z.infer<typeof Options>, ctx: Context): Promise<ExitCode> {
  return runAllCleanups(opts, ctx)
}

