import type { Context } from '../context.js'
import { InterruptedError, UsageError } from '../errors.js'

/**
 * The gate of every destructive command: on a terminal it asks, otherwise it needs
 * --yes. Returns false when the person at the terminal says no.
 */
export async function confirmDestructive(ctx: Context, question: string, yes: boolean): Promise<boolean> {
  if (yes) return true
  if (!ctx.io.canPrompt) {
    throw new UsageError(`${question.replace(/\?$/, '')}: this changes data, and there is no terminal to confirm on.`, {
      code: 'confirmation_required',
      hint: 'Pass --yes to go ahead (or --dry-run to see what would change).',
    })
  }
  const { confirm } = await import('@inquirer/prompts')
  try {
    return await confirm({ message: question, default: false }, { input: process.stdin, output: process.stderr, signal: ctx.signal })
  } catch (error) {
    if ((error as Error).name === 'ExitPromptError' || (error as Error).name === 'AbortPromptError') throw new InterruptedError('Abandoned at the confirmation: nothing was changed.')
    throw error
  }
}
