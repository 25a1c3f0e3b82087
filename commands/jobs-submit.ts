import { z } from 'zod'
import type { Context } from '../src/context.js'
import { ExitCode } from '../src/errors.js'
import { confirmAction, confirmationRequired } from '../src/io/confirm.js'
import { boundedNumber, duration, userId } from '../src/jobs/options.js'
import { budgetWaitPrefix } from '../src/jobs/budget.js'

export const Options = z.object({
  dataset: z.string().min(1, 'expected a dataset id or name').optional(),
  preset: z.enum(['fast', 'balanced', 'quality'], { error: (i) => `must be fast, balanced or quality (got "${String(i.input)}")` }).optional(),
  epochs: boundedNumber({ min: 1, max: 100, integer: true }).optional(),
  learningRate: boundedNumber({ min: 1e-6, max: 1e-2, text: ['1e-6', '1e-2'] }).optional(),
  rank: boundedNumber({ min: 1, max: 256, integer: true }).optional(),
  gpuType: z.string().min(1, 'expected a GPU type').optional(),
  gpus: boundedNumber({ min: 1, max: 8, integer: true }).optional(),
  user: userId.optional(),
  watch: z.boolean().default(false),
  interval: duration({ min: 100, minText: '100ms' }).default(2_000),
  yes: z.boolean().default(false),
  dryRun: z.boolean().default(false),
  json: z.boolean().default(false),
})

const ACTION = 'Submitting a job'

export async function run(opts: z.infer<typeof Options>, ctx: Context): Promise<ExitCode> {
  const { planSubmission, describePlan, describePlanJson, resolveUser, checkGpuType } = await import('../src/jobs/submit-plan.js')
  const { submitJob } = await import('../src/jobs/submit.js')
  // What the flags alone can tell is told before the database is opened.
  const user = resolveUser(opts.user, ctx.env)
  const config = await ctx.config()
  if (opts.gpuType !== undefined) checkGpuType(opts.gpuType, config)
  const prompter = ctx.io.canPrompt ? ctx.prompter : null
  const db = await ctx.db()

  const plan = await planSubmission(db, config, { ...opts, user }, ctx.env, prompter)
  const { profileSimulatedSpeed, simulatedHoursNote } = await import('../src/cluster/simulated.js')
  const speed = await profileSimulatedSpeed(config)
  const estimate = { hours: plan.estimate.hours, total_cost: plan.estimate.totalCost, hourly_rate: plan.estimate.hourlyRate }
  if (opts.dryRun) {
    if (opts.json) ctx.io.json({ dry_run: true, plan: describePlanJson(plan), estimate })
    else {
      for (const line of describePlan(plan, speed)) ctx.io.err(line)
      ctx.io.err('dry run: would submit this job; nothing written.')
    }
    return ExitCode.ok
  }
  // Submitting spends money: without a terminal to confirm on, it takes --yes, as cancel and delete do.
  // Refused before the plan is printed: piped, that text would only sit above the error.
  if (!opts.yes && !prompter) throw confirmationRequired(ACTION)
  if (!opts.yes) {
    for (const line of describePlan(plan, speed)) ctx.io.err(line)
    if (!(await confirmAction(ctx, { action: ACTION, question: 'Submit this job?', yes: opts.yes, default: true }))) {
      ctx.io.err('Not submitted.')
      return ExitCode.failed
    }
  }

  const { job, row, committed } = await submitJob(
    db,
    config,
    { userId: plan.userId, datasetId: plan.dataset.id, presetId: plan.preset.id, hyperparameters: plan.hyperparameters, gpu: plan.gpu },
    ctx.clock.now(),
  )
  const budget = config.budget
  const projected = committed + plan.estimate.totalCost
  if (projected > budget.monthlyUsd) {
    ctx.io.warn(`the job waits in the queue until the budget holds it (${budgetWaitPrefix(committed, budget.monthlyUsd)}${plan.estimate.totalCost.toFixed(2)}).`)
  } else if (projected >= budget.monthlyUsd * budget.warnRatio) {
    ctx.io.warn(
      `with this job's estimate, this month's training spend reaches $${projected.toFixed(2)} of the $${budget.monthlyUsd.toFixed(2)} budget (${Math.round((projected / budget.monthlyUsd) * 100)}%).`,
    )
  }

  if (opts.json) {
    // With --watch the output is a stream: one JSON object per line, this one first.
    if (opts.watch) ctx.io.jsonLine({ job: row, estimate })
    else ctx.io.json({ job: row, estimate })
  } else if (ctx.io.stdoutIsTTY) {
    ctx.io.out(`Submitted job ${job.id}: ${plan.preset.id} on ${plan.gpu.num_gpus}x ${plan.gpu.gpu_type}, estimated $${plan.estimate.totalCost.toFixed(2)} over ${plan.estimate.hours} h${simulatedHoursNote(plan.estimate.hours, speed)}.`)
    if (!opts.watch) ctx.io.err(`Follow it with: lora jobs watch ${job.id}`)
  } else {
    ctx.io.out(job.id)
  }
  if (!opts.watch) return ExitCode.ok
  const { watchJob } = await import('../src/jobs/watch.js')
  return watchJob(ctx, job.id, { intervalMs: opts.interval, json: opts.json })
}
