import { z } from 'zod'
import type { Context } from '../src/context.js'
import { statusList, JOB_JSON_HELP } from '../src/jobs/options.js'
import { type ExitCode, finished } from '../src/errors.js'
import { boundedNumber, duration, flag, json, optionsOf, userId } from '../src/flags.js'

export const flags = {
  status: flag('--status <list>', 'comma-separated statuses, or active', statusList.optional()),
  user: flag('--user <uuid>', "only this user's jobs", userId.optional()),
  since: flag('--since <duration>', 'only jobs created in the last 7d, 12h, ...', duration({ min: 1_000, minText: '1s' }).optional()),
  limit: flag('--limit <n>', 'at most this many jobs', boundedNumber({ min: 1, max: 10_000, integer: true }), '50'),
  json,
}

export const Options = optionsOf(flags)

export const help = `--json prints {"jobs": [job, ...]}.

${JOB_JSON_HELP}`
export const examples = [
  'lora jobs list',
  'lora jobs list --status active --since 24h',
  'lora --wide jobs list --status failed --limit 10',
]

export async function run(opts: z.infer<typeof Options>, ctx: Context): Promise<ExitCode> {
  const { listJobs } = await import('../src/db/queries/job-views.js')
  const { printTable } = await import('../src/io/output.js')
  const { age, epochText, jobCost, jobNote, paintStatus } = await import('../src/jobs/format.js')
  const { money } = await import('../src/metrics/format.js')
  const db = await ctx.db()
  const config = await ctx.config()
  const now = ctx.clock.now()
  const jobs = await listJobs(db, {
    limit: opts.limit,
    ...(opts.status ? { statuses: opts.status } : {}),
    ...(opts.user ? { userId: opts.user } : {}),
    ...(opts.since !== undefined ? { since: new Date(now.getTime() - opts.since) } : {}),
  })
  if (opts.json) {
    ctx.io.json({ jobs })
    return finished(ctx.signal)
  }

  const tty = ctx.io.stdoutIsTTY
  type Job = (typeof jobs)[number]
  await printTable<Job>(
    ctx.io,
    [
      { header: 'ID', value: (j) => j.id, id: true },
      { header: tty ? 'User' : 'User ID', value: (j) => j.user_id, id: true, detail: true },
      { header: 'Dataset', value: (j) => j.dataset_name },
      { header: 'Status', value: (j) => j.status, color: (j, t) => paintStatus(ctx.io.style, j.status, t) },
      { header: 'Progress', value: (j) => (tty ? `${j.progress.toFixed(1)}%` : j.progress.toFixed(2)), align: 'right' },
      { header: 'Epoch', value: (j) => epochText(j), align: 'right', detail: true },
      { header: 'Cost', value: (j) => (tty ? money(jobCost(j, now, config.gpuPrices)) : jobCost(j, now, config.gpuPrices).toFixed(2)), align: 'right' },
      tty ? { header: 'Age', value: (j) => age(j.created_at, now), align: 'right' } : { header: 'Created at', value: (j) => j.created_at },
      { header: 'Reason', value: (j) => jobNote(j) },
    ],
    jobs,
    { empty: 'No training jobs match.' },
  )
  return finished(ctx.signal)
}
