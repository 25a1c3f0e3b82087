import type { Queryable } from '../src/db/types.js'

/**
 * A large platform generated in SQL (generate_series: nothing crosses the wire row by
 * row), for the plan test and the metrics benchmark. Deterministic: job i is created
 * i/jobs of a year before `now`; the newest are queued (2 h) and running (2 to 4 h),
 * every 10th older one failed, every 20th (+1) cancelled, the rest completed with a
 * model artifact; every job has one cost record.
 */
export interface LargeSeed {
  now: Date
  jobs: number
  /** Points per job (metrics_points = jobs x this). */
  pointsPerJob: number
  datasets?: number
  users?: number
  /** Progress, for the benchmark. */
  onStep?: (step: string) => void
}

const ERROR_TYPES = ['TIMEOUT_ERROR', 'CLUSTER_API_ERROR', 'TRAINING_ERROR', 'VALIDATION_ERROR', 'STORAGE_ERROR']

export async function seedLargePlatform(db: Queryable, seed: LargeSeed): Promise<void> {
  const n = seed.jobs
  const datasets = seed.datasets ?? Math.max(10, Math.floor(n / 10))
  const users = seed.users ?? Math.max(5, Math.floor(n / 100))
  const now = seed.now
  const step = async (name: string, sql: string, params: unknown[]) => {
    seed.onStep?.(name)
    await db.query(sql, params)
  }

  await step(
    `datasets (${datasets})`,
    `INSERT INTO datasets (id, user_id, name, format, status, storage_path, file_size, validated_at, created_at, deleted_at)
     SELECT md5('d' || i)::uuid, md5('u' || (i % $3))::uuid, 'dataset ' || i, 'chat',
            CASE WHEN i % 20 = 0 THEN 'failed' ELSE 'ready' END, 'u/' || i || '.jsonl',
            1048576 + (i::bigint * 7919) % 524288000,
            CASE WHEN i % 20 = 0 THEN NULL ELSE c + make_interval(mins => 1 + i % 10) END,
            c, CASE WHEN i % 10 = 0 AND c < $1::timestamptz - interval '30 days' THEN c + interval '30 days' END
       FROM (SELECT i, $1::timestamptz - (i::float8 / $2) * interval '365 days' AS c FROM generate_series(1, $2::int) i) s`,
    [now, datasets, users],
  )

  await step(
    `training_jobs (${n})`,
    `INSERT INTO training_jobs (id, user_id, dataset_id, status, cluster_name, created_at, started_at, completed_at,
                                error_type, error_message, current_cost, final_cost, updated_at)
     SELECT md5('j' || i)::uuid, md5('u' || (i % $3))::uuid, md5('d' || (1 + i % $4))::uuid, st, 'primary', c,
            CASE WHEN st = 'queued' THEN NULL ELSE c + interval '5 minutes' END,
            CASE WHEN st IN ('completed', 'failed', 'cancelled') THEN c + make_interval(mins => 35 + i % 60) END,
            CASE WHEN st = 'failed' THEN ($5::text[])[1 + (i / 10) % 5] END,
            CASE WHEN st = 'failed' THEN 'generated failure ' || i END,
            CASE WHEN st = 'running' THEN 1.25 ELSE 0 END,
            CASE WHEN st IN ('completed', 'failed') THEN 0.5 + (i % 400) / 100.0 END,
            c
       FROM (SELECT i, c,
                    CASE WHEN c > $1::timestamptz - interval '2 hours' THEN 'queued'
                         WHEN c > $1::timestamptz - interval '4 hours' THEN 'running'
                         WHEN i % 10 = 0 THEN 'failed'
                         WHEN i % 20 = 1 THEN 'cancelled'
                         ELSE 'completed' END AS st
               FROM (SELECT i, $1::timestamptz - (i::float8 / $2) * interval '365 days' AS c FROM generate_series(1, $2::int) i) t) s`,
    [now, n, users, datasets, ERROR_TYPES],
  )

  await step(
    `cost_records (${n})`,
    `INSERT INTO cost_records (user_id, job_id, cost_type, amount, billing_period, recorded_at)
     SELECT user_id, id, 'training', coalesce(final_cost, 0.75),
            (r AT TIME ZONE 'UTC')::date, r
       FROM (SELECT user_id, id, final_cost, least($1::timestamptz, coalesce(completed_at, created_at + interval '10 minutes')) AS r
               FROM training_jobs) s`,
    [now],
  )

  await step(
    'model_artifacts (one per completed job)',
    `INSERT INTO model_artifacts (job_id, user_id, storage_path, artifacts, created_at, deleted_at)
     SELECT id, user_id, user_id || '/' || id || '/adapter.safetensors',
            jsonb_build_object('lora_adapter_size', 50000000 + (abs(hashtext(id::text)) % 100000000)),
            completed_at, CASE WHEN abs(hashtext(id::text)) % 50 = 0 THEN completed_at + interval '1 day' END
       FROM training_jobs WHERE status = 'completed'`,
    [],
  )

  if (seed.pointsPerJob > 0) {
    await step(
      `metrics_points (${n * seed.pointsPerJob})`,
      `INSERT INTO metrics_points (job_id, "timestamp", epoch, step, training_loss, learning_rate, throughput, gpu_utilization)
       SELECT md5('j' || i)::uuid, $1::timestamptz - (i::float8 / $2) * interval '365 days' + make_interval(mins => 5 + s * 3),
              1 + s / 4, s, 2.5 / (1 + s), 0.0002, 1000 + s, 0.9
         FROM generate_series(1, $2::int) i CROSS JOIN generate_series(1, $3::int) s`,
      [now, n, seed.pointsPerJob],
    )
  }

  await step(
    `user_training_limits (${users})`,
    `INSERT INTO user_training_limits (user_id, loras_created_this_month, monthly_limit, created_at)
     SELECT md5('u' || i)::uuid, i % 12, 10, $1::timestamptz - (i::float8 / $2) * interval '365 days'
       FROM generate_series(0, $2::int - 1) i`,
    [now, users],
  )

  await step(
    'operations tables',
    `WITH hb AS (
       INSERT INTO lora_ops.daemon_heartbeats (daemon_id, host, pid, version, started_at, last_cycle_at, status)
       VALUES ('bench-a', 'bench', 1, '0.1.0', $1::timestamptz - interval '1 day', $1::timestamptz - interval '20 seconds', 'running'),
              ('bench-b', 'bench', 2, '0.1.0', $1::timestamptz - interval '1 day', $1::timestamptz - interval '40 seconds', 'running')
       RETURNING 1
     ), o AS (
       INSERT INTO lora_ops.orphaned_instances (cluster, external_job_id, reason, status, estimated_hourly_cost, first_seen_at)
       SELECT 'primary', 'ext-' || g, 'finished in the database', CASE WHEN g % 3 = 0 THEN 'cleaned' ELSE 'detected' END, 3.5,
              $1::timestamptz - make_interval(hours => g)
         FROM generate_series(1, 30) g
       RETURNING 1
     )
     INSERT INTO lora_ops.circuit_breakers (cluster, state) VALUES ('primary', 'closed') ON CONFLICT DO NOTHING`,
    [now],
  )
}

/** Visibility map and statistics: what index-only scans and the planner need. */
export async function analyzeLargePlatform(db: Queryable): Promise<void> {
  for (const table of ['datasets', 'training_jobs', 'cost_records', 'model_artifacts', 'metrics_points', 'user_training_limits']) {
    await db.query(`VACUUM (ANALYZE) ${table}`)
  }
}
