import type { Context } from '../context.js'
import type { Storage } from './types.js'
import { LoraError } from '../errors.js'

/** Opens the profile's storage (being built: see the datasets work). */
export async function openStorage(ctx: Context): Promise<Storage> {
  await ctx.config()
  throw new LoraError('Storage is not built yet.', { code: 'not_built', exitCode: 2 })
}
