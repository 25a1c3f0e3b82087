import { z } from 'zod'
import type { Context } from '../src/context.js'
import { completionScript, SHELLS } from '../src/completion.js'
import { type ExitCode, finished } from '../src/errors.js'

export const Options = z.object({
  args: z.enum(SHELLS, { error: `the shell must be one of ${SHELLS.join(', ')}` }),
  json: z.boolean(),
})

export async function run(opts: z.infer<typeof Options>, ctx: Context): Promise<ExitCode> {
  ctx.io.stdout.write(completionScript(opts.args))
  return finished(ctx.signal)
}
