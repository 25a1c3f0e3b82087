import type { Queryable } from '../types.js'

export interface ReconciledJob {
  id: string
  external_job_id: string | null
  cluster_name: string | null
  status: string
  gpu_config: Record<string, unknown>
  /** Every cost record of the job, whatever the month: the cluster bills the whole run. */
  recorded: number
  records: number
}

/**
 * The platform's side of a reconciliation: the jobs with a cost record in the month,
 * and those the cluster names (by our job id, its idempotency key, or its external id).
 */
export async function readJobsToReconcile(q: Queryable, monthStart: Date, monthEnd: Date, jobIds: string[], externalIds: string[]): Promise<ReconciledJob[]> {
  return q.query<ReconciledJob>(
    `SELECT j.id, j.external_job_id, j.cluster_name, j.status, j.gpu_config,
            coalesce(c.recorded, 0)::float8 AS recorded, coalesce(c.records, 0)::int AS records
       FROM training_jobs j
       LEFT JOIN LATERAL (SELECT sum(amount) AS recorded, count(*) AS records FROM cost_records WHERE job_id = j.id) c ON true
      WHERE j.id = ANY($3::uuid[]) OR j.external_job_id = ANY($4::text[])
         OR j.id IN (SELECT job_id FROM cost_records WHERE recorded_at >= $1 AND recorded_at < $2 AND job_id IS NOT NULL)
      ORDER BY j.id`,
    [monthStart, monthEnd, jobIds, externalIds],
  )
}
