import { z } from 'zod'
import type { Context } from '../src/context.js'
import { migrate, LATEST_VERSION } from '../src/db/migrate.js'
import { startSpinner } from '../src/io/spinner.js'

export const Options = z.object({ json: z.boolean() })

export async function run(opts: z.infer<typeof Options>, ctx: Context): Promise<void> {
  const db = await ctx.rawDb()
  const spinner = opts.json ? null : await startSpinner(ctx.io, 'Applying migrations')
  try {
    const result = await migrate(db)
    if (opts.json) {
      return ctx.io.json({ applied: result.applied.map((m) => ({ version: m.version, name: m.name })), version: LATEST_VERSION })
    }
    spinner?.stop()
    if (result.alreadyCurrent) ctx.io.out(`schema is current (version ${LATEST_VERSION}); nothing to apply`)
    for (const m of result.applied) ctx.io.out(`applied ${String(m.version).padStart(4, '0')}_${m.name}`)
  } catch (error) {
    spinner?.stop()
    throw error
  }
}
