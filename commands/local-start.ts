import { z } from 'zod'
import type { Context } from '../src/context.js'
import { UsageError } from '../src/errors.js'
import { startLocalStack } from '../src/local.js'

export const Options = z.object({ json: z.boolean() })

/** Holds the embedded stack until Ctrl-C, so other terminals' commands share it. */
export async function run(opts: z.infer<typeof Options>, ctx: Context): Promise<number> {
  const config = await ctx.config()
  if (!config.embedded) {
    throw new UsageError(`\`lora local start\` runs the embedded stack, but profile ${config.profile} uses a server database.`, {
      hint: 'Run it without DATABASE_URL (or with DATABASE_URL=embedded), or in a directory without that profile.',
    })
  }
  const stack = await startLocalStack(ctx)
  if (opts.json) ctx.io.jsonLine(stack.info)
  else {
    ctx.io.out(`embedded stack running (pid ${process.pid})`)
    ctx.io.out(`  database  ${stack.info.database}  (served on ${stack.info.socket})`)
    if (stack.info.migrated.length) ctx.io.out(`            migrated: ${stack.info.migrated.join(', ')}`)
    ctx.io.out(`  storage   ${stack.info.storage}`)
    ctx.io.out(`  cluster   ${stack.info.simulator}  (the GPU cluster simulator)`)
    ctx.io.out('other terminals in this directory use it automatically: try `lora db status`')
    ctx.io.err('press Ctrl-C to stop')
  }
  await new Promise<void>((resolve) => {
    if (ctx.signal.aborted) return resolve()
    ctx.signal.addEventListener('abort', () => resolve(), { once: true })
  })
  await stack.stop()
  ctx.io.err('embedded stack stopped')
  return 0
}
