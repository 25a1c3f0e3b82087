import type { Queryable } from '../../src/db/types.js'

/**
 * The per-user rollups of migration 0006 beside the same figures aggregated directly
 * from cost_records and training_jobs, as sorted lines "month user total records jobs"
 * and "month user jobs". Rows a rollup keeps at zero (everything of a user and month
 * removed) are left out: the direct aggregate has no row for them.
 */
export async function userRollups(db: Queryable) {
  const lines = async (sql: string) => (await db.query<{ line: string }>(sql)).map((r) => r.line)
  const [costs, costsDirect, jobs, jobsDirect] = await Promise.all([
    lines(`SELECT month || ' ' || user_id || ' ' || total_cost::numeric(14, 2) || ' ' || records || ' ' || jobs AS line
             FROM lora_ops.user_month_costs WHERE records <> 0 OR total_cost <> 0 OR jobs <> 0 ORDER BY 1`),
    lines(`SELECT lora_ops.utc_month(recorded_at) || ' ' || user_id || ' ' || sum(amount)::numeric(14, 2) || ' ' || count(*) || ' ' || count(DISTINCT job_id) AS line
             FROM cost_records GROUP BY lora_ops.utc_month(recorded_at), user_id ORDER BY 1`),
    lines(`SELECT month || ' ' || user_id || ' ' || jobs AS line FROM lora_ops.user_month_jobs WHERE jobs <> 0 ORDER BY 1`),
    lines(`SELECT lora_ops.utc_month(created_at) || ' ' || user_id || ' ' || count(*) AS line
             FROM training_jobs GROUP BY lora_ops.utc_month(created_at), user_id ORDER BY 1`),
  ])
  return { rollup: { costs, jobs }, direct: { costs: costsDirect, jobs: jobsDirect } }
}
