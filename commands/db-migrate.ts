import { z } from 'zod'
import type { Context } from '../src/context.js'
import { migrate, LATEST_VERSION } from '../src/db/migrate.js'
import { startSpinner } from '../src/io/spinner.js'
import { type ExitCode, finished } from '../src/errors.js'
import { json, optionsOf } from '../src/flags.js'

export const flags = { json }

export const Options = optionsOf(flags)

export const examples = [
  'lora db migrate',
  'lora --database-url postgres://lora@db.internal:5432/lora db migrate --json',
]

export async function run(opts: z.infer<typeof Options>, ctx: Context): Promise<ExitCode> {
  const db = await ctx.rawDb()
  const spinner = opts.json ? null : await startSpinner(ctx.io, 'Applying migrations')
  let result: Awaited<ReturnType<typeof migrate>>
  try {
    result = await migrate(db)
  } finally {
    spinner?.stop()
  }
  // A fresh project has no buckets: the first artifact copy would fail without them.
  const buckets = await ensureBuckets(ctx)
  if (opts.json) {
    ctx.io.json({ applied: result.applied.map((m) => ({ version: m.version, name: m.name })), version: LATEST_VERSION, buckets })
    return finished(ctx.signal)
  }
  if (result.alreadyCurrent) ctx.io.out(`schema is current (version ${LATEST_VERSION}); nothing to apply`)
  for (const m of result.applied) ctx.io.out(`applied ${String(m.version).padStart(4, '0')}_${m.name}`)
  if (buckets) ctx.io.err(`buckets present: ${buckets.join(', ')}`)
  return finished(ctx.signal)
}

/** The platform's buckets, created when the profile has storage; null when it has none. */
async function ensureBuckets(ctx: Context): Promise<string[] | null> {
  const config = await ctx.config()
  if (!config.storage) return null
  const { ensurePlatformBuckets } = await import('../src/storage/buckets.js')
  const { LoraError } = await import('../src/errors.js')
  try {
    return await ensurePlatformBuckets(await ctx.storage())
  } catch (error) {
    throw new LoraError(`The schema is migrated, but the storage buckets could not be created: ${(error as Error).message.replace(/\.$/, '')}.`, {
      code: 'buckets_failed',
      hint: 'Check the storage settings (SUPABASE_URL, SUPABASE_SERVICE_ROLE_KEY) and run `lora db migrate` again.',
      cause: error,
    })
  }
}
