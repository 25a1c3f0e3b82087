import type { Queryable } from '../../src/db/types.js'

/**
 * A small platform whose every figure can be computed by hand (the expected values in
 * the tests are worked out in the comments there). The clock stands at NOW.
 */
export const NOW = new Date('2026-01-15T12:00:00Z')
const H = 3_600_000
const MIN = 60_000
export const ago = (ms: number) => new Date(NOW.getTime() - ms)
/**
 * The failure-rate thresholds the alert and health tests rate this platform by: of the
 * jobs created in 24 h, 3 finished (j1 completed, j3 and j4 failed), fewer than the
 * default minimum of 5, so the minimum is lowered to rate them (2 of 3: 66.7 %), and
 * to 2 so that they are still rated 4 h later, once j1 has left the window.
 */
export const FIXTURE_FAILURE_RATE = { warning: 0.1, critical: 0.2, minJobs: 2 }
export const MiB = 1024 ** 2
export const GiB = 1024 ** 3

export const U = {
  u1: '00000000-0000-4000-8000-000000000001',
  u2: '00000000-0000-4000-8000-000000000002',
  u3: '00000000-0000-4000-8000-000000000003',
  u4: '00000000-0000-4000-8000-000000000004',
}
const id = (prefix: string, n: number) => `${prefix}-0000-4000-8000-${String(n).padStart(12, '0')}`
export const DS = { d1: id('d0000000', 1), d2: id('d0000000', 2), d3: id('d0000000', 3), d4: id('d0000000', 4), d5: id('d0000000', 5) }
export const J = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`j${i + 1}`, id('a0000000', i + 1)])) as Record<`j${number}`, string>

interface Dataset { id: string; user: string; status: string; size: number | null; created: Date; validated?: Date | null; deleted?: Date | null }
interface Job {
  id: string; user: string; dataset: string; status: string; created: Date; started?: Date | null; completed?: Date | null
  errorType?: string; error?: string; currentCost?: number; finalCost?: number; cluster?: string
}

export const DATASETS: Dataset[] = [
  { id: DS.d1, user: U.u1, status: 'ready', size: GiB, created: ago(2 * H), validated: ago(2 * H - 4 * MIN) },
  { id: DS.d2, user: U.u2, status: 'ready', size: 512 * MiB, created: ago(72 * H), validated: ago(72 * H - 10 * MIN) },
  { id: DS.d3, user: U.u1, status: 'failed', size: 100 * MiB, created: ago(5 * H) },
  { id: DS.d4, user: U.u3, status: 'ready', size: 2 * GiB, created: ago(240 * H), validated: ago(240 * H - 2 * MIN), deleted: ago(24 * H) },
  { id: DS.d5, user: U.u2, status: 'uploading', size: null, created: ago(1 * H) },
]

export const JOBS: Job[] = [
  { id: J.j1!, user: U.u1, dataset: DS.d1, status: 'completed', created: ago(20 * H), started: ago(19 * H), completed: ago(18 * H), finalCost: 3 },
  { id: J.j2!, user: U.u1, dataset: DS.d1, status: 'completed', created: ago(48 * H), started: ago(47 * H), completed: ago(45 * H), finalCost: 1 },
  { id: J.j3!, user: U.u2, dataset: DS.d2, status: 'failed', created: ago(10 * H), started: ago(9 * H), completed: ago(7 * H), errorType: 'TIMEOUT_ERROR', error: 'Training timeout', finalCost: 4.5 },
  { id: J.j4!, user: U.u2, dataset: DS.d2, status: 'failed', created: ago(3 * H), completed: ago(170 * MIN), errorType: 'CLUSTER_API_ERROR', error: 'cluster refused the job' },
  { id: J.j5!, user: U.u3, dataset: DS.d2, status: 'running', created: ago(5 * H), started: ago(4 * H), currentCost: 1.5, cluster: 'primary' },
  { id: J.j6!, user: U.u3, dataset: DS.d1, status: 'running', created: ago(1 * H), started: ago(30 * MIN), currentCost: 0.5, cluster: 'primary' },
  { id: J.j7!, user: U.u4, dataset: DS.d1, status: 'queued', created: ago(10 * MIN) },
  { id: J.j8!, user: U.u4, dataset: DS.d1, status: 'queued', created: ago(5 * MIN) },
  { id: J.j9!, user: U.u1, dataset: DS.d2, status: 'cancelled', created: ago(6 * H), completed: ago(5 * H) },
  { id: J.j10!, user: U.u1, dataset: DS.d1, status: 'completed', created: ago(40 * 24 * H), started: ago(40 * 24 * H - H), completed: ago(40 * 24 * H - 2 * H), finalCost: 2 },
  { id: J.j11!, user: U.u2, dataset: DS.d2, status: 'failed', created: ago(96 * H), started: ago(96 * H), completed: ago(95 * H), errorType: 'VALIDATION_ERROR', error: 'Quality validation failed', finalCost: 0.25 },
  { id: J.j12!, user: U.u3, dataset: DS.d1, status: 'failed', created: ago(30 * H), started: ago(29 * H), completed: ago(20 * H), errorType: 'TRAINING_ERROR', error: 'CUDA out of memory' },
]

export const COSTS: { job: string; user: string; type: string; amount: number; recorded: Date }[] = [
  { job: J.j1!, user: U.u1, type: 'training', amount: 3, recorded: ago(18 * H) },
  { job: J.j2!, user: U.u1, type: 'training', amount: 1, recorded: ago(45 * H) },
  { job: J.j3!, user: U.u2, type: 'training', amount: 4, recorded: ago(7 * H) },
  { job: J.j3!, user: U.u2, type: 'storage', amount: 0.5, recorded: ago(7 * H) },
  { job: J.j10!, user: U.u1, type: 'training', amount: 2, recorded: ago(40 * 24 * H - 2 * H) },
  { job: J.j11!, user: U.u2, type: 'training', amount: 0.25, recorded: ago(95 * H) },
]

export const ARTIFACTS: { job: string; user: string; artifacts: Record<string, unknown>; created: Date; deleted?: Date }[] = [
  { job: J.j1!, user: U.u1, artifacts: { lora_adapter_size: 100 * MiB }, created: ago(18 * H) },
  { job: J.j2!, user: U.u1, artifacts: { lora_adapter_size: 50 * MiB, full_model_size: GiB }, created: ago(45 * H) },
  // Not a whole number of bytes: counts as 0 rather than breaking the total.
  { job: J.j10!, user: U.u1, artifacts: { lora_adapter_size: 'abc' }, created: ago(40 * 24 * H) },
  { job: J.j9!, user: U.u1, artifacts: { lora_adapter_size: 999 }, created: ago(5 * H), deleted: ago(24 * H) },
]

export const LIMITS: { user: string; created: Date; used: number; limit: number }[] = [
  { user: U.u1, created: ago(40 * 24 * H), used: 10, limit: 10 },
  { user: U.u2, created: ago(72 * H), used: 2, limit: 10 },
  { user: U.u3, created: ago(24 * H), used: 1, limit: 10 },
]

export async function seedPlatform(db: Queryable): Promise<void> {
  await db.query(
    `INSERT INTO datasets (id, user_id, name, format, status, storage_path, file_size, validated_at, created_at, deleted_at)
     SELECT id, user_id, name, 'chat', status, storage_path, file_size, validated_at, created_at, deleted_at
       FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, user_id uuid, name text, status text, storage_path text, file_size bigint,
            validated_at timestamptz, created_at timestamptz, deleted_at timestamptz)`,
    [DATASETS.map((d, i) => ({ id: d.id, user_id: d.user, name: `dataset ${i + 1}`, status: d.status, storage_path: `${d.user}/${d.id}.jsonl`, file_size: d.size, validated_at: d.validated ?? null, created_at: d.created, deleted_at: d.deleted ?? null }))],
  )
  await db.query(
    `INSERT INTO training_jobs (id, user_id, dataset_id, status, created_at, started_at, completed_at, error_type, error_message,
                                current_cost, final_cost, cluster_name, updated_at)
     SELECT id, user_id, dataset_id, status, created_at, started_at, completed_at, error_type, error_message,
            coalesce(current_cost, 0), final_cost, cluster_name, created_at
       FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, user_id uuid, dataset_id uuid, status text, created_at timestamptz,
            started_at timestamptz, completed_at timestamptz, error_type text, error_message text, current_cost numeric,
            final_cost numeric, cluster_name text)`,
    [JOBS.map((j) => ({ id: j.id, user_id: j.user, dataset_id: j.dataset, status: j.status, created_at: j.created, started_at: j.started ?? null, completed_at: j.completed ?? null, error_type: j.errorType ?? null, error_message: j.error ?? null, current_cost: j.currentCost ?? null, final_cost: j.finalCost ?? null, cluster_name: j.cluster ?? null }))],
  )
  await db.query(
    `INSERT INTO cost_records (user_id, job_id, cost_type, amount, billing_period, recorded_at)
     SELECT user_id, job_id, cost_type, amount, (recorded_at AT TIME ZONE 'UTC')::date, recorded_at
       FROM jsonb_to_recordset($1::jsonb) AS x(user_id uuid, job_id uuid, cost_type text, amount numeric, recorded_at timestamptz)`,
    [COSTS.map((c) => ({ user_id: c.user, job_id: c.job, cost_type: c.type, amount: c.amount, recorded_at: c.recorded }))],
  )
  await db.query(
    `INSERT INTO model_artifacts (job_id, user_id, artifacts, created_at, deleted_at)
     SELECT job_id, user_id, artifacts, created_at, deleted_at
       FROM jsonb_to_recordset($1::jsonb) AS x(job_id uuid, user_id uuid, artifacts jsonb, created_at timestamptz, deleted_at timestamptz)`,
    [ARTIFACTS.map((a) => ({ job_id: a.job, user_id: a.user, artifacts: a.artifacts, created_at: a.created, deleted_at: a.deleted ?? null }))],
  )
  await db.query(
    `INSERT INTO user_training_limits (user_id, loras_created_this_month, monthly_limit, created_at)
     SELECT user_id, used, lim, created_at FROM jsonb_to_recordset($1::jsonb) AS x(user_id uuid, used int, lim int, created_at timestamptz)`,
    [LIMITS.map((l) => ({ user_id: l.user, used: l.used, lim: l.limit, created_at: l.created }))],
  )
}
