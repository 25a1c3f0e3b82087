import type { z } from 'zod'
import type { Context } from '../src/context.js'
import type { ExitCode } from '../src/errors.js'
import { CLEANUP_HELP, runCleanupCommand } from '../src/maintenance/command.js'
import { dryRun, json, optionsOf, yes } from '../src/flags.js'

export const flags = {
  dryRun,
  yes,
  json,
}

export const Options = optionsOf(flags)

export const help = `${CLEANUP_HELP}
Jobs submitted in the last 5 minutes are left alone. Exit 1 when an orphan resisted 3 attempts.`
export const examples = [
  'lora cleanup orphans --dry-run',
  'lora cleanup orphans --yes  # from cron',
]

export function run(opts: z.infer<typeof Options>, ctx: Context): Promise<ExitCode> {
  return runCleanupCommand('orphans', opts, ctx)
}

