import { z } from 'zod'
import type { Context } from '../src/context.js'
import { type ExitCode, finished } from '../src/errors.js'
import { json, optionsOf } from '../src/flags.js'

export const flags = { json }

export const Options = optionsOf(flags)

export const examples = [
  'lora config check',
  'lora --profile prod config check --json',
]

/** Loading the configuration validates it: an invalid one throws a UsageError (exit 2). */
export async function run(opts: z.infer<typeof Options>, ctx: Context): Promise<ExitCode> {
  const { config, files, warnings } = await ctx.loadConfig()
  const missing: string[] = []
  if (!config.database) missing.push('database (DATABASE_URL)')
  if (!config.storage) missing.push('storage (SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY, or LORA_STORAGE_DIR)')
  if (config.clusters.length === 0) missing.push('GPU cluster (GPU_CLUSTER_API_URL)')
  if (opts.json) {
    ctx.io.json({ ok: true, profile: config.profile, embedded: config.embedded, files, warnings, missing })
    return finished(ctx.signal)
  }
  ctx.io.out(`configuration ok: profile ${config.profile}${config.embedded ? ' (embedded stack)' : ''}`)
  ctx.io.out(`files: ${files.length ? files.join(', ') : 'none'}`)
  for (const part of missing) ctx.io.out(`not configured: ${part}; commands that need it will refuse to run`)
  return finished(ctx.signal)
}
