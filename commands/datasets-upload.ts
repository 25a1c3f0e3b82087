import { z } from 'zod'
import type { Context } from '../src/context.js'
import { ExitCode } from '../src/errors.js'
import { FORMATS } from '../src/datasets/formats.js'
import { UPLOAD_BUCKETS } from '../src/datasets/upload.js'
import { show } from '../src/jobs/options.js'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export const Options = z.object({
  args: z.string().min(1, 'name the JSONL file to upload'),
  name: z.string().trim().min(1, 'expected a name').max(200, 'must be at most 200 characters').optional(),
  user: z.string().regex(UUID, 'expected a user id (a UUID)').optional(),
  format: z.enum(FORMATS, { error: (issue) => `expected one of ${FORMATS.join(', ')}, got ${show(issue.input)}` }).optional(),
  bucket: z.enum(UPLOAD_BUCKETS, { error: (issue) => `expected ${UPLOAD_BUCKETS.join(' or ')}, got ${show(issue.input)}` }).default('lora-datasets'),
  dryRun: z.boolean().default(false),
  force: z.boolean().default(false),
  json: z.boolean().default(false),
})

/** Validates, then uploads; exit 1 when the file is invalid (nothing uploaded, no row). */
export async function run(opts: z.infer<typeof Options>, ctx: Context): Promise<ExitCode> {
  const { uploadDataset } = await import('../src/datasets/upload.js')
  const { printValidationErrors, validationNotes, validationSummary } = await import('../src/datasets/report.js')
  const { datasetJson } = await import('../src/datasets/manage.js')
  const { printFields } = await import('../src/io/output.js')
  const { formatBytes } = await import('../src/datasets/progress.js')

  const { UploadInterruptedError } = await import('../src/datasets/upload.js')
  let result: Awaited<ReturnType<typeof uploadDataset>>
  try {
    result = await uploadDataset(ctx, {
      file: opts.args,
      ...(opts.name ? { name: opts.name } : {}),
      ...(opts.user ? { user: opts.user } : {}),
      ...(opts.format ? { format: opts.format } : {}),
      bucket: opts.bucket,
      dryRun: opts.dryRun,
      force: opts.force,
    })
  } catch (error) {
    // A script reading stdout learns where the upload stopped; the sentence goes to stderr.
    if (opts.json && error instanceof UploadInterruptedError) {
      ctx.io.json({
        outcome: 'interrupted',
        dataset_id: error.datasetId,
        offset: error.offset,
        file_size: error.size,
        ...(error.code === 'storage_timeout' ? { reason: 'storage_timeout' } : {}),
      })
    }
    throw error
  }
  const { validation } = result

  if (opts.json) {
    ctx.io.json({
      outcome: result.outcome,
      dataset: 'dataset' in result ? datasetJson(result.dataset) : null,
      validation,
      ...(result.outcome === 'uploaded' ? { resumed_from: result.resumed_from } : {}),
    })
    return result.outcome === 'invalid' ? ExitCode.failed : ExitCode.ok
  }
  if (result.outcome === 'invalid') {
    printValidationErrors(ctx.io, opts.args, validation)
    return ExitCode.failed
  }
  for (const note of validationNotes(validation)) ctx.io.err(`note: ${note}`)
  if (result.outcome === 'dry_run') {
    ctx.io.err(`${opts.args} is valid: ${validationSummary(validation)}.`)
    printFields(ctx.io, [
      ['format', validation.format],
      ['records', validation.records],
      ['training_pairs', validation.training_pairs],
      ['token_estimate', validation.token_estimate],
      ['file_size', validation.bytes],
      ['sha256', validation.sha256],
    ])
    const where = `${result.bucket}/${result.user ?? '<user>'}/<new id>/${result.file_name}`
    ctx.io.err(`dry run: nothing uploaded, no row written; it would go to ${where}`)
    return ExitCode.ok
  }
  const d = result.dataset
  if (result.outcome === 'duplicate') {
    ctx.io.err(`${opts.args} was uploaded already, as dataset ${d.name} (${d.id}) on ${d.created_at.toISOString()}: not uploaded again (--force does).`)
  } else if (result.resumed_from > 0) {
    ctx.io.err(`resumed the interrupted upload at ${formatBytes(result.resumed_from)} of ${formatBytes(validation.bytes)}.`)
  }
  if (!ctx.io.stdoutIsTTY) {
    // Piped: the id alone, for `id=$(lora datasets upload ...)`.
    ctx.io.out(d.id)
    return ExitCode.ok
  }
  printFields(ctx.io, [
    ['id', d.id],
    ['name', d.name],
    ['status', d.status],
    ['format', d.format],
    ['training pairs', d.total_training_pairs],
    ['tokens (est.)', d.total_tokens],
    ['size', d.file_size === null ? null : formatBytes(d.file_size)],
    ['sha256', d.sha256],
    ['object', `${d.storage_bucket}/${d.storage_path}`],
    ['validated at', d.validated_at],
  ])
  return ExitCode.ok
}
