import { z } from 'zod'
import type { Context } from '../src/context.js'
import { completionScript, SHELLS } from '../src/completion.js'

export const Options = z.object({
  args: z.enum(SHELLS, { error: `the shell must be one of ${SHELLS.join(', ')}` }),
  json: z.boolean(),
})

export async function run(opts: z.infer<typeof Options>, ctx: Context): Promise<void> {
  ctx.io.stdout.write(completionScript(opts.args))
}
