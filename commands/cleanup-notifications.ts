import type { z } from 'zod'
import type { Context } from '../src/context.js'
import type { ExitCode } from '../src/errors.js'
import { CLEANUP_HELP, cleanupFlags, runCleanupCommand } from '../src/maintenance/command.js'
import { dryRun, json, optionsOf, yes } from '../src/flags.js'

export const flags = {
  olderThan: cleanupFlags.olderThan,
  dryRun,
  yes,
  json,
}

export const Options = optionsOf(flags)

export const help = CLEANUP_HELP
export const examples = [
  'lora cleanup notifications --dry-run',
  'lora cleanup notifications --older-than 90d --yes --json',
]

export function run(opts: z.infer<typeof Options>, ctx: Context): Promise<ExitCode> {
  return runCleanupCommand('notifications', opts, ctx)
}

