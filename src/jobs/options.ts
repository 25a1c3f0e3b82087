import { z } from 'zod'
import { show } from '../flags.js'
import { ACTIVE_STATUSES, TERMINAL_STATUSES } from '../db/queries/jobs.js'

/** What the jobs commands share beyond the common flags (src/flags.ts): the --status list, the fields of a job in --json. */

export const JOB_STATUSES = [...ACTIVE_STATUSES, ...TERMINAL_STATUSES] as readonly string[]

/** A comma-separated list of statuses; `active` stands for queued, initializing and running. */
export const statusList = z.union([z.string(), z.array(z.string())]).transform((raw, ctx) => {
  const words = (Array.isArray(raw) ? raw : raw.split(',')).map((w) => w.trim().toLowerCase()).filter(Boolean)
  const statuses = new Set<string>()
  for (const word of words) {
    if (word === 'active') for (const s of ACTIVE_STATUSES) statuses.add(s)
    else if (JOB_STATUSES.includes(word)) statuses.add(word)
    else {
      ctx.addIssue({ code: 'custom', message: `"${word}" is not a job status (${JOB_STATUSES.join(', ')}, or active)` })
      return z.NEVER
    }
  }
  if (statuses.size === 0) {
    ctx.addIssue({ code: 'custom', message: `expected one or more of ${JOB_STATUSES.join(', ')}` })
    return z.NEVER
  }
  return [...statuses]
})

/** The end of the --help of the commands that print jobs. */
export const JOB_JSON_HELP = `The job's fields in --json are the columns of training_jobs (id, user_id, dataset_id,
dataset_name, preset_id, status, current_stage, progress, current_epoch, total_epochs,
current_step, total_steps, current_metrics, hyperparameters, gpu_config, external_job_id,
cluster_name, estimated_total_cost, current_cost, final_cost, error_message, wait_reason,
created_at, started_at, completed_at, updated_at, ...).`
