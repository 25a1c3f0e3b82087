import type { Context } from '../src/context.js'
import { CleanupOptions, runAllCleanups } from '../src/maintenance/command.js'

export const Options = CleanupOptions

export function run(opts: CleanupOptions, ctx: Context): Promise<number> {
  return runAllCleanups(opts, ctx)
}
