import type { Context } from '../context.js'
import { UsageError } from '../errors.js'

/**
 * The one refusal of every command that spends or deletes without a terminal to ask
 * at. `action` is what would be done, as the subject of the sentence: "Cancelling jobs".
 */
export function confirmationRequired(action: string): UsageError {
  return new UsageError(`${action} needs --yes without a terminal.`, { code: 'confirmation_required', hint: 'Or --dry-run to see what it would do.' })
}

/**
 * The gate checked before anything is read: off a terminal, without --yes or
 * --dry-run, the command is refused at once.
 */
export function requireConfirmable(ctx: Context, action: string, opts: { yes: boolean; dryRun: boolean }): void {
  if (!opts.yes && !opts.dryRun && !ctx.io.canPrompt) throw confirmationRequired(action)
}

export interface Confirmation {
  /** What would be done, for the refusal: "Resetting the monthly count of 2 user(s)". */
  action: string
  /** What the terminal is asked. */
  question: string
  /** --yes: go ahead without asking. */
  yes: boolean
  /** What Enter answers: no, unless the command says otherwise. */
  default?: boolean
}

/**
 * Asks at a terminal through the Context's prompter; --yes goes ahead; without a
 * terminal it is the refusal above. False when the person at the terminal says no; an
 * abandoned prompt exits 130.
 */
export async function confirmAction(ctx: Context, confirmation: Confirmation): Promise<boolean> {
  if (confirmation.yes) return true
  if (!ctx.io.canPrompt) throw confirmationRequired(confirmation.action)
  return ctx.prompter.confirm(confirmation.question, { default: confirmation.default ?? false })
}
