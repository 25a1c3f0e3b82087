import { z } from 'zod'
import type { Context } from '../src/context.js'
import { ExitCode } from '../src/errors.js'
import { confirmAction, confirmationRequired } from '../src/io/confirm.js'
import { boundedNumber, datasetRef, dryRun, flag, interval, json, optionsOf, userId, yes } from '../src/flags.js'
import { JOB_JSON_HELP } from '../src/jobs/options.js'

export const flags = {
  dataset: flag('--dataset <id|name>', 'a ready dataset of the user, by id or name', datasetRef.optional()),
  preset: flag('--preset <name>', 'fast | balanced | quality (default balanced without a terminal)', z.enum(['fast', 'balanced', 'quality'], { error: (i) => `must be fast, balanced or quality (got "${String(i.input)}")` }).optional()),
  epochs: flag('--epochs <n>', "epochs, 1 to 100 (default: the preset's)", boundedNumber({ min: 1, max: 100, integer: true }).optional()),
  learningRate: flag('--learning-rate <x>', 'learning rate, 1e-6 to 1e-2', boundedNumber({ min: 1e-6, max: 1e-2, text: ['1e-6', '1e-2'] }).optional()),
  rank: flag('--rank <n>', "LoRA rank, 1 to 256 (alpha keeps the preset's ratio)", boundedNumber({ min: 1, max: 256, integer: true }).optional()),
  gpuType: flag('--gpu-type <type>', "a GPU type of the profile's price list", z.string().min(1, 'expected a GPU type').optional()),
  gpus: flag('--gpus <n>', 'number of GPUs, 1 to 8', boundedNumber({ min: 1, max: 8, integer: true }).optional()),
  user: flag('--user <uuid>', 'the user the job is for (or LORA_USER_ID)', userId.optional()),
  watch: flag('--watch', 'then follow the job as `jobs watch` does, and exit by its end', z.boolean().default(false)),
  interval: { ...interval, description: 'with --watch: poll interval' },
  dryRun: { ...dryRun, description: 'show the job and its estimate, submit nothing' },
  yes,
  json,
}

export const Options = optionsOf(flags)

export const help = `It spends money: on a terminal it asks first; otherwise it needs --yes (exit 2 without it,
nothing written). --dry-run shows the job and its estimate and submits nothing.
Prints the job id (alone when piped), or {"job": ..., "estimate": ...} with --json
({"dry_run": true, "plan", "estimate"} with --dry-run).
Refused with exit 1, nothing written: a dataset missing, not ready or another user's;
a user over the monthly limit; the monthly budget used up.

${JOB_JSON_HELP}`
export const examples = [
  'lora jobs submit  # at a terminal: asks for what is missing',
  'lora jobs submit --dataset support-chats --user 6f1c2b9e-3a4d-4e5f-8a7b-9c0d1e2f3a4b --preset fast --yes --watch',
  'lora jobs submit --dataset bfc44f88 --user 6f1c2b9e-3a4d-4e5f-8a7b-9c0d1e2f3a4b --epochs 5 --gpus 2 --dry-run',
]

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
    const { budgetWaitPrefix } = await import('../src/jobs/budget.js')
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
