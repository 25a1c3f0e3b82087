import { z } from 'zod'
import type { Context } from '../src/context.js'
import { ExitCode } from '../src/errors.js'
import { confirmAction, requireConfirmable } from '../src/io/confirm.js'
import { datasetRef, dryRun, json, optionsOf, yes } from '../src/flags.js'

export const flags = { yes, dryRun, json }

export const Options = optionsOf(flags, { args: datasetRef })

export const help = `Refused (exit 1) while a queued, initializing or running job trains on it.
The row is marked deleted first, then the object removed: if removal fails, the row
says so and running the command again finishes it. Recorded in the audit log.
--json prints {"id", "name", "deleted_at", "already_deleted", "object", "object_removed", "dry_run"}.`
export const examples = [
  'lora datasets delete bfc44f88 --dry-run',
  'lora datasets delete support-chats --yes',
]

const ACTION = 'Deleting a dataset'

/** Soft-deletes a dataset and removes its object; refused (exit 1) while a job trains on it. */
export async function run(opts: z.infer<typeof Options>, ctx: Context): Promise<ExitCode> {
  requireConfirmable(ctx, ACTION, opts)
  const { planDatasetDelete, executeDatasetDelete } = await import('../src/datasets/manage.js')
  const { formatBytes } = await import('../src/datasets/progress.js')
  const { resolveDatasetId } = await import('../src/ids.js')
  const plan = await planDatasetDelete(ctx, await resolveDatasetId(await ctx.db(), opts.args))
  const d = plan.dataset
  const object = `${d.storage_bucket}/${d.storage_path}`
  const size = d.file_size === null ? '' : `, ${formatBytes(d.file_size)}`

  if (plan.alreadyDeleted && !plan.objectExists) {
    if (opts.json) ctx.io.json({ id: d.id, name: d.name, deleted_at: d.deleted_at, already_deleted: true, object, object_removed: false, dry_run: opts.dryRun })
    else ctx.io.err(`Dataset ${d.name} (${d.id}) was already deleted on ${d.deleted_at!.toISOString()}; its object is gone too. Nothing to do.`)
    return ExitCode.ok
  }
  const what = plan.alreadyDeleted
    ? `remove the object ${object} left behind by deleted dataset ${d.name} (${d.id})`
    : `delete dataset ${d.name} (${d.id}, ${d.status}${size}) and remove its object ${object}${plan.objectExists ? '' : ' (already missing)'}`

  if (opts.dryRun) {
    if (opts.json) ctx.io.json({ id: d.id, name: d.name, deleted_at: null, already_deleted: plan.alreadyDeleted, object, object_removed: false, dry_run: true })
    else ctx.io.err(`dry run: would ${what}; nothing changed.`)
    return ExitCode.ok
  }
  if (!opts.yes) {
    ctx.io.err(`About to ${what}.`)
    if (!(await confirmAction(ctx, { action: ACTION, question: 'Delete it?', yes: opts.yes }))) {
      ctx.io.err('Nothing deleted.')
      return ExitCode.failed
    }
  }
  const result = await executeDatasetDelete(ctx, plan)
  if (opts.json) ctx.io.json(result)
  else if (result.already_deleted) ctx.io.out(`removed the object ${object} left behind by deleted dataset ${d.id}`)
  else ctx.io.out(`deleted dataset ${d.id}${result.object_removed ? ` and removed ${object}` : ` (its object ${object} was already missing)`}`)
  return ExitCode.ok
}
