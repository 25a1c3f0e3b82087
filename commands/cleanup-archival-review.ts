import type { z } from 'zod'
import type { Context } from '../src/context.js'
import type { ExitCode } from '../src/errors.js'
import { cleanupFlags, runCleanupCommand } from '../src/maintenance/command.js'
import { json, optionsOf } from '../src/flags.js'

export const flags = {
  unusedFor: cleanupFlags.unusedFor,
  json,
}

export const Options = optionsOf(flags)
export const examples = [
  'lora cleanup archival-review',
  'lora cleanup archival-review --unused-for 3mo --json',
]

export function run(opts: z.infer<typeof Options>, ctx: Context): Promise<ExitCode> {
  return runCleanupCommand('archival-review', opts, ctx)
}

