import type { Context } from '../src/context.js'
import { CleanupOptions, runCleanupCommand } from '../src/maintenance/command.js'

export const Options = CleanupOptions

export function run(opts: CleanupOptions, ctx: Context): Promise<number> {
  return runCleanupCommand('uploads', opts, ctx)
}
