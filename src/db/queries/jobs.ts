/**
 * What the job lifecycle's statements share (claim.ts, poll.ts, cancel.ts): the
 * statuses, the channel every change is announced on, the cost records a terminal
 * state implies, and the test of a lease whose daemon is gone.
 */

/**
 * Every change of a job is announced on this channel (payload `<job id>:<status>`) at
 * commit, so `lora jobs watch` redraws at once where LISTEN works, and polls otherwise.
 */
export const JOB_CHANNEL = 'lora_jobs'

export const ACTIVE_STATUSES = ['queued', 'initializing', 'running'] as const
export const TERMINAL_STATUSES = ['completed', 'failed', 'cancelled'] as const
export type JobStatus = (typeof ACTIVE_STATUSES)[number] | (typeof TERMINAL_STATUSES)[number]

/**
 * Whether the daemon holding a job is gone: past its lease, or dead by its heartbeat
 * (silent for three of its beat intervals, at least 15 s). Leases and heartbeats are
 * on the database's clock, which every daemon shares, never on a daemon's own.
 */
export const HOLDER_GONE = `(j.lease_expires_at < now() OR j.claimed_by IN (
       SELECT h.daemon_id FROM lora_ops.daemon_heartbeats h
        WHERE h.beat_at < now() - make_interval(secs => greatest(3 * h.beat_interval_ms, 15000) / 1000.0)))`

/**
 * The cost records of jobs that reached a terminal state, from a CTE returning id,
 * user_id, status, final_cost, gpu_config, started_at, cost_by_month, cost_source and
 * billed_gpu_seconds: one record per month the cost was incurred in, $0.00 included,
 * each saying where the figure comes from. billing_period is the month's first day;
 * a month already closed is recorded at its last instant, so every reader that sums
 * by recorded_at (metrics, the daily series, the budget) charges it to that month.
 * At most once per job, type and month: the schema's constraint.
 */
export function insertCostRecords(cte: string, now: string, where: string): string {
  return `
       INSERT INTO cost_records (user_id, job_id, cost_type, amount, details, billing_period, recorded_at)
       SELECT c.user_id, c.id, 'training_compute', m.value::numeric,
              jsonb_build_object('gpu_type', c.gpu_config->>'gpu_type', 'gpu_count', c.gpu_config->'num_gpus',
                                 'duration_hours', round((extract(epoch FROM (${now}::timestamptz - c.started_at)) / 3600)::numeric, 4),
                                 'status', c.status, 'source', coalesce(c.cost_source, 'wall_clock'),
                                 'billed_gpu_seconds', c.billed_gpu_seconds, 'month', m.key, 'final_cost', c.final_cost),
              (m.key || '-01')::date,
              least(${now}::timestamptz, (((m.key || '-01')::date + interval '1 month')::timestamp AT TIME ZONE 'UTC') - interval '1 microsecond')
         FROM ${cte} c
        CROSS JOIN LATERAL jsonb_each_text(CASE WHEN c.cost_by_month = '{}'::jsonb
                 THEN jsonb_build_object(to_char(${now}::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM'), coalesce(c.final_cost, 0))
                 ELSE c.cost_by_month END) m
        WHERE ${where}
       ON CONFLICT (job_id, cost_type, billing_period) DO NOTHING`
}

/** The statements also return pg_notify's empty column: callers see what changed only. */
export function onlyIdAndStatus(rows: { id: string; status: string }[]): { id: string; status: string }[] {
  return rows.map((r) => ({ id: r.id, status: r.status }))
}
