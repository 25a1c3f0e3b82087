import type { Context } from '../context.js'
import type { Queryable } from './types.js'

/**
 * Reads from the database only when one answers within `ms`: for what must answer at
 * once whatever the state of things (shell completion, `lora version`). It never
 * starts the embedded stack's service (nor creates a stack), and never throws:
 * null means "no answer in time".
 */
export async function readQuickly<T>(ctx: Context, ms: number, read: (db: Queryable) => Promise<T>): Promise<T | null> {
  try {
    const config = await ctx.config()
    if (config.embedded) {
      if (config.stackFound === false) return null
      const { localStatus } = await import('../local.js')
      if (!(await localStatus(config)).running) return null
    }
    const work = (async () => read(await ctx.rawDb()))()
    // A late answer is dropped, and so is its failure.
    work.catch(() => {})
    const timer = new AbortController()
    const late = ctx.clock.sleep(ms, timer.signal).then(
      () => null,
      () => null,
    )
    const result = await Promise.race([work, late])
    timer.abort()
    return result
  } catch {
    return null
  }
}
