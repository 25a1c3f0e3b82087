import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { backends, type TestDb } from '../helpers/db.js'
import { explainableMetricsQueries } from '../../src/db/queries/metrics.js'
import { explainableHealthQueries } from '../../src/db/queries/health.js'
import { analyzeLargePlatform, seedLargePlatform } from '../../bench/metrics-seed.js'

const BIG_TABLES = ['training_jobs', 'datasets', 'cost_records', 'model_artifacts', 'metrics_points']

/**
 * The plan of every metrics and health query on a large table (50,000 jobs and as
 * many cost records, 42,000 artifacts, 5,000 datasets): which index serves it, and
 * no sequential scan of a big table anywhere in the plan.
 */
// Each group lists the indexes any one of which may serve that part of the query.
const TJ_CREATED = ['training_jobs_created_at_idx']
const TJ_FINISHED = ['training_jobs_status_completed_idx', 'training_jobs_completed_at_idx']
const COST_RECORDED = ['cost_records_recorded_cover_idx', 'cost_records_user_recorded_idx']
const EXPECTED_INDEX: Record<string, string[][]> = {
  datasetUploads: [['datasets_created_at_idx']],
  datasetValidationTime: [['datasets_created_at_idx']],
  // Kept by triggers in lora_ops.storage_totals: two rows.
  activeDatasets: [],
  activeJobsByStatus: [['training_jobs_status_created_idx']],
  jobOutcomes: [[...TJ_CREATED, 'training_jobs_status_created_idx']],
  jobsCreatedSeries: [TJ_CREATED],
  jobsFinishedSeries: [TJ_FINISHED],
  stuckJobs: [['training_jobs_running_started_idx']],
  costSeries: [COST_RECORDED],
  // The per-user rollups of migration 0006: the top ten are an index range.
  costPerUser: [['user_month_costs_top_idx']],
  mostExpensiveJobs: [COST_RECORDED, ['training_jobs_pkey']],
  costPerJob: [COST_RECORDED],
  datasetStorage: [],
  modelStorage: [],
  datasetGrowth: [['datasets_created_at_idx']],
  modelGrowth: [['model_artifacts_created_idx']],
  // The daily rollups of migration 0007: a day a row, the window an index range.
  jobsDays: [['jobs_daily_pkey']],
  costDays: [['cost_daily_pkey']],
  modelGrowthDays: [['model_bytes_daily_pkey']],
  cachedDays: [['metrics_daily_pkey']],
  largestDatasets: [['datasets_live_size_idx']],
  errorTypes: [TJ_FINISHED],
  // Backwards through the newest jobs until 10 failed ones, or straight to the failed ones.
  recentFailedJobs: [['training_jobs_status_created_idx', 'training_jobs_created_at_idx']],
  topUsers: [['user_month_jobs_top_idx'], ['training_jobs_user_created_idx']],
  costOfUsers: [['user_month_costs_pkey', 'user_month_costs_top_idx']],
  // user_training_limits has a row per user: small, read whole.
  userLimits: [],
  jobsFinishedBetween: [TJ_FINISHED],
  failedJobsBetween: [TJ_FINISHED],
  newUsersBetween: [],
  runningCost: [['training_jobs_status_created_idx']],
  trainingTimeouts: [TJ_FINISHED],
}

interface PlanNode {
  'Node Type': string
  'Relation Name'?: string
  'Index Name'?: string
  Plans?: PlanNode[]
}

function walk(node: PlanNode, out: PlanNode[] = []): PlanNode[] {
  out.push(node)
  for (const child of node.Plans ?? []) walk(child, out)
  return out
}

const postgres = backends.find((b) => b.name === 'postgres')!

describe.skipIf(!postgres.available)('query plans on a large table (postgres)', () => {
  let db: TestDb
  const now = new Date('2026-01-15T12:00:00Z')
  beforeAll(async () => {
    db = await postgres.open()
    await seedLargePlatform(db, { now, jobs: 50_000, pointsPerJob: 0 })
    await analyzeLargePlatform(db)
  }, 120_000)
  afterAll(async () => {
    await db?.close()
  })

  it('serves every query from an index, never a sequential scan of a big table', async () => {
    const queries = [...explainableMetricsQueries(now), ...explainableHealthQueries(now)]
    expect(queries.map((q) => q.name).sort()).toEqual(Object.keys(EXPECTED_INDEX).sort())
    const plans: Record<string, string> = {}
    const problems: string[] = []
    for (const q of queries) {
      const [row] = await db.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(`EXPLAIN (FORMAT JSON) ${q.sql}`, q.params)
      const nodes = walk(row!['QUERY PLAN'][0].Plan)
      const seqScans = nodes.filter((n) => n['Node Type'] === 'Seq Scan' && BIG_TABLES.includes(n['Relation Name'] ?? ''))
      const indexes = [...new Set(nodes.map((n) => n['Index Name']).filter((i): i is string => Boolean(i)))]
      plans[q.name] = nodes.map((n) => `${n['Node Type']}${n['Index Name'] ? ` using ${n['Index Name']}` : n['Relation Name'] ? ` on ${n['Relation Name']}` : ''}`).join(' > ')
      if (seqScans.length) problems.push(`${q.name}: Seq Scan on ${seqScans.map((s) => s['Relation Name']).join(', ')}: ${plans[q.name]}`)
      for (const group of EXPECTED_INDEX[q.name] ?? []) {
        if (!group.some((i) => indexes.includes(i))) problems.push(`${q.name}: expected ${group.join(' or ')}, plan is ${plans[q.name]}`)
      }
    }
    expect(problems).toEqual([])
    // The week's and the month's sums of cost records come from the index alone (migration 0008).
    expect({ mostExpensiveJobs: plans.mostExpensiveJobs, costPerJob: plans.costPerJob }).toEqual({
      mostExpensiveJobs: expect.stringContaining('Index Only Scan using cost_records_recorded_cover_idx'),
      costPerJob: expect.stringContaining('Index Only Scan using cost_records_recorded_cover_idx'),
    })
  })
})
