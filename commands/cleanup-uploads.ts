import type { z } from 'zod'
import type { Context } from '../src/context.js'
import type { ExitCode } from '../src/errors.js'
import { runCleanupCommand } from '../src/maintenance/command.js'
import { dryRun, json, optionsOf, yes } from '../src/flags.js'

export const flags = {
  dryRun,
  yes,
  json,
}

export const Options = optionsOf(flags)

export const help = 'Exit 1 when an upload failed again.'
export const examples = [
  'lora cleanup uploads --dry-run',
  'lora cleanup uploads --yes',
]

export function run(opts: z.infer<typeof Options>, ctx: Context): Promise<ExitCode> {
  return runCleanupCommand('uploads', opts, ctx)
}

