import type { Context } from '../src/context.js'
import type { ExitCode } from '../src/errors.js'
import { CleanupOptions, runCleanupCommand } from '../src/maintenance/command.js'

export const Options = CleanupOptions

export function run(opts: CleanupOptions, ctx: Context): Promise<ExitCode> {
  return runCleanupCommand('archival-review', opts, ctx)
}
