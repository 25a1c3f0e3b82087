// The metrics, health and alert queries on a large platform: 1 million training_jobs,
// 10 million metrics_points, 1 million cost_records (and 100,000 datasets, ~850,000
// model artifacts) on a real Postgres server, started the way the test setup starts
// one (or LORA_TEST_DATABASE_URL). It prints p50 and p95 of every query and of
// `lora health --json` run end to end as a child process; it asserts nothing.
// Every statement `lora metrics` runs is here: the named statements of
// src/db/queries/metrics.ts (the per-user ones read the monthly rollups of migration
// 0006, the closed days of the series the daily rollups of 0007) and health.ts, each
// with the window it is run on at most (the live series statements: 25 hours), the
// series as src/metrics/series.ts reads them, cold and cached, the whole of
// collectMetrics, and what the daily rollups' triggers add to the daemon's writes. Targets: every statement p95 < 50 ms, health < 500 ms; each row
// shows its p95 beside the target and as a share of it.
//
// LORA_BENCH_JOBS (default 1000000) and LORA_BENCH_POINTS_PER_JOB (default 10) scale it.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import setupPostgres from '../test/helpers/global-setup.js'
import { openPostgres } from '../src/db/postgres.js'
import { cacheDays, explainableMetricsQueries, METRICS_SQL, monthKey } from '../src/db/queries/metrics.js'
import { explainableHealthQueries } from '../src/db/queries/health.js'
import { collectMetrics } from '../src/metrics/collect.js'
import { readMonthSpend, readSeries } from '../src/metrics/series.js'
import { startSimulator } from '../src/cluster/simulator.js'
import { FolderStorage } from '../src/storage/folder.js'
import { BUCKETS } from '../src/storage/types.js'
import { systemClock } from '../src/clock.js'
import { createContext } from '../src/context.js'
import { runHealth } from '../src/health/run.js'
import { analyzeLargePlatform, seedLargePlatform } from './metrics-seed.js'
import { percentile, printRows, type Row } from './metrics-report.js'
import { measureRollupWriteCost } from './metrics-writes.js'

/** The per-user statements as they were before the rollups, for the ratio. */
const LIVE_COST_PER_USER = `
  WITH top AS (
    SELECT user_id, sum(amount::float8) AS total_cost FROM cost_records
     WHERE recorded_at >= $1 AND recorded_at < $2
     GROUP BY user_id ORDER BY total_cost DESC, user_id LIMIT $3
  )
  SELECT top.user_id, top.total_cost,
         (SELECT count(DISTINCT c.job_id) FROM cost_records c
           WHERE c.user_id = top.user_id AND c.recorded_at >= $1 AND c.recorded_at < $2)::int AS num_jobs
    FROM top ORDER BY top.total_cost DESC, top.user_id`
const LIVE_TOP_USERS = `
  SELECT user_id, count(*)::int AS jobs,
         count(*) FILTER (WHERE status = 'completed')::int AS completed,
         count(*) FILTER (WHERE status = 'failed')::int AS failed,
         (count(*) OVER ())::int AS active_users
    FROM training_jobs WHERE created_at >= $1 AND created_at < $2
   GROUP BY user_id ORDER BY jobs DESC, user_id LIMIT $3`

const JOBS = Number(process.env.LORA_BENCH_JOBS ?? 1_000_000)
const POINTS_PER_JOB = Number(process.env.LORA_BENCH_POINTS_PER_JOB ?? 10)
const RUNS = 30
const CLI_RUNS = 15
const BIN = fileURLToPath(new URL('../../bin/lora', import.meta.url))

const log = (text: string) => process.stderr.write(`${text}\n`)

async function time<T>(fn: () => Promise<T>): Promise<number> {
  const t0 = performance.now()
  await fn()
  return performance.now() - t0
}

async function measure(name: string, fn: () => Promise<unknown>, runs = RUNS): Promise<Row> {
  for (let i = 0; i < 3; i++) await fn()
  const samples: number[] = []
  for (let i = 0; i < runs; i++) samples.push(await time(fn))
  samples.sort((a, b) => a - b)
  return { name, runs, p50: percentile(samples, 0.5), p95: percentile(samples, 0.95), max: samples.at(-1)! }
}

function runCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now()
    const child = spawn(BIN, [...args], { env: { PATH: process.env.PATH ?? '', ...env } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: performance.now() - t0 }))
  })
}

async function main() {
  let url = ''
  const teardown = await setupPostgres({ provide: (_key: string, value: string) => (url = value) } as never)
  if (!url) throw new Error('no Postgres server: install initdb and pg_ctl, or set LORA_TEST_DATABASE_URL')
  const name = `lora_bench_${randomBytes(4).toString('hex')}`
  const admin = await openPostgres({ url, max: 1 })
  await admin.query(`CREATE DATABASE ${name} TEMPLATE lora_template`)
  await admin.close()
  const dbUrl = url.replace(/\/postgres$/, `/${name}`)
  const db = await openPostgres({ url: dbUrl, max: 4 })
  const work = mkdtempSync(join(tmpdir(), 'lora-bench-metrics-'))
  const closers: (() => Promise<void>)[] = []
  try {
    const now = new Date()
    const seedStarted = performance.now()
    await seedLargePlatform(db, {
      now,
      jobs: JOBS,
      pointsPerJob: POINTS_PER_JOB,
      onStep: (step) => log(`seeding ${step} (${((performance.now() - seedStarted) / 1000).toFixed(0)} s)`),
    })
    log(`vacuum analyze (${((performance.now() - seedStarted) / 1000).toFixed(0)} s)`)
    await analyzeLargePlatform(db)
    const seeded = (performance.now() - seedStarted) / 1000
    const [counts] = await db.query<Record<string, number>>(
      `SELECT (SELECT count(*) FROM training_jobs)::int AS training_jobs, (SELECT count(*) FROM metrics_points)::int AS metrics_points,
              (SELECT count(*) FROM cost_records)::int AS cost_records, (SELECT count(*) FROM model_artifacts)::int AS model_artifacts,
              (SELECT count(*) FROM datasets)::int AS datasets`,
    )

    const rows: Row[] = []
    for (const q of [...explainableMetricsQueries(now), ...explainableHealthQueries(now)]) {
      rows.push(await measure(q.name, () => db.query(q.sql, q.params)))
      log(`measured ${q.name}`)
    }
    // The per-user statements on a whole month (the last one): what lora metrics reads
    // on the last day of a month, beside the aggregate they replace (the statement before
    // migration 0006, over the same month of cost records and jobs).
    const lastMonth = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1))
    const lastMonthKey = monthKey(lastMonth)
    const top = await db.query<{ user_id: string }>(METRICS_SQL.topUsers, [lastMonthKey, 10])
    const wholeMonth = [
      { name: 'costPerUser (a whole month)', sql: METRICS_SQL.costPerUser, params: [lastMonthKey, 10] },
      { name: 'topUsers (a whole month)', sql: METRICS_SQL.topUsers, params: [lastMonthKey, 10] },
      { name: 'costOfUsers (a whole month, the top ten)', sql: METRICS_SQL.costOfUsers, params: [lastMonthKey, top.map((u) => u.user_id)] },
    ]
    for (const q of wholeMonth) rows.push(await measure(q.name, () => db.query(q.sql, q.params)))
    const monthEnd = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1))
    const before: Row[] = [
      await measure('costPerUser before the rollups (a whole month of cost_records)', () => db.query(LIVE_COST_PER_USER, [lastMonth, monthEnd, 10]), 10),
      await measure('topUsers before the rollups (a whole month of training_jobs)', () => db.query(LIVE_TOP_USERS, [lastMonth, monthEnd, 10]), 10),
    ]
    // The week's most expensive jobs and the month's cost per job read the covering
    // index of migration 0008 alone; before it, each cost record was a heap fetch too.
    // The same statements with index-only scans off stand for that, in the same run.
    const coverBaseline = new Map<string, Row>()
    for (const q of explainableMetricsQueries(now).filter((x) => x.name === 'mostExpensiveJobs' || x.name === 'costPerJob')) {
      const row = await measure(`${q.name} with a heap fetch per record (before migration 0008)`, () =>
        db.transaction(async (tx) => {
          await tx.query('SET LOCAL enable_indexonlyscan = off')
          await tx.query(q.sql, q.params)
        }),
      )
      before.push(row)
      coverBaseline.set(q.name, row)
    }
    log('measured the per-user statements on a whole month, and the cost windows without the covering index')
    // The one write of lora metrics: the closed days of a 30-day series, stored once
    // (later calls find them there and the insert does nothing).
    const days = Array.from({ length: 30 }, (_, i) => ({
      day: new Date(now.getTime() - (i + 1) * 86_400_000).toISOString().slice(0, 10),
      data: { created: 2740, completed: 2300, failed: 270, training_seconds: 8.2e6, trained: 2300 },
    }))
    rows.push(await measure('cacheDays (30 closed days, already stored)', () => cacheDays(db, 'jobs', days, now)))
    // The daily series as `lora metrics` reads them: closed days from lora_ops.metrics_daily
    // (filled by the first call), today aggregated live.
    const series: Row[] = []
    for (const metric of ['jobs', 'cost', 'storage'] as const) {
      const since = new Date(now.getTime() - 30 * 86_400_000)
      // Cold: no cached day, so the 30 closed days are read from the daily rollups
      // (migration 0007) and stored; the statement that forgets them is not timed.
      const coldSamples: number[] = []
      for (let i = 0; i < RUNS; i++) {
        await db.query('DELETE FROM lora_ops.metrics_daily WHERE metric = $1', [metric])
        coldSamples.push(await time(() => readSeries(db, metric, since, now, 'day')))
      }
      coldSamples.sort((a, b) => a - b)
      series.push({ name: `${metric} series, 30 days (cold: no day cached)`, runs: RUNS, p50: percentile(coldSamples, 0.5), p95: percentile(coldSamples, 0.95), max: coldSamples.at(-1)! })
      const warm = await measure(`${metric} series, 30 days (cached)`, () => readSeries(db, metric, since, now, 'day'))
      series.push(warm)
      log(`measured ${metric} series`)
    }
    series.push(await measure('month to date spend (cost series + running jobs)', () => readMonthSpend(db, now)))
    const config = {
      profile: 'bench', embedded: false, stateDir: work, database: { url: dbUrl, embedded: false, pooler: false },
      storage: { kind: 'folder' as const, dir: join(work, 'storage'), quotaBytes: 500 * 1024 ** 3 },
      clusters: [], breaker: { failureThreshold: 3, windowMs: 600_000, cooldownMs: 1_800_000 },
      budget: { monthlyUsd: 200, warnRatio: 0.75 }, training: { timeoutMs: 7_200_000, leaseMs: 300_000, maxAttempts: 3 },
      gpuPrices: {}, sources: {},
    }
    const whole = await measure('(lora metrics: every section, in-process)', () => collectMetrics({ db, config, now }), 10)
    log('measuring the write cost of the daily rollups')
    const writes = await measureRollupWriteCost(db, now)

    // The GPU cluster as production has it: a remote API (the simulator, served from here).
    const storage = new FolderStorage(join(work, 'storage'), systemClock)
    for (const bucket of [BUCKETS.datasets, BUCKETS.models, BUCKETS.validationImages]) await storage.ensureBucket(bucket)
    const sim = await startSimulator({ seed: 1 })
    closers.push(() => sim.close())
    const env = { HOME: work, DATABASE_URL: dbUrl, GPU_CLUSTER_API_URL: sim.url, LORA_STORAGE_DIR: join(work, 'storage'), NO_COLOR: '1' }
    // What any process costs on this machine right now, to read the end-to-end figures by.
    const baseline: number[] = []
    for (let i = 0; i < 10; i++) baseline.push((await runCli(['--version'], env)).ms)
    baseline.sort((a, b) => a - b)
    const first = await runCli(['health', '--json'], env)
    if (first.code === 2 || !first.stdout.startsWith('{')) throw new Error(`lora health failed: ${first.stderr}`)
    // The checks themselves, in this process: a new context (and connection) each time.
    const healthInProcess = await measure('(lora health: every check, in-process)', async () => {
      const ctx = createContext({ env, cwd: work, homeDir: work })
      try {
        await runHealth(ctx)
      } finally {
        await ctx.close()
      }
    }, CLI_RUNS)
    const dbStatus: number[] = []
    for (let i = 0; i < 5; i++) dbStatus.push((await runCli(['db', 'status', '--json'], env)).ms)
    dbStatus.sort((a, b) => a - b)
    const health: number[] = []
    for (let i = 0; i < CLI_RUNS; i++) health.push((await runCli(['health', '--json'], env)).ms)
    health.sort((a, b) => a - b)
    const report = JSON.parse(first.stdout) as { checks: { name: string; duration_ms: number; status: string }[] }
    const metricsCli: number[] = []
    for (let i = 0; i < 5; i++) metricsCli.push((await runCli(['metrics', '--json'], env)).ms)
    metricsCli.sort((a, b) => a - b)
    const version = (await db.query<{ v: string }>(`SELECT current_setting('server_version') AS v`))[0]!.v

    process.stdout.write(`Metrics queries on Postgres ${version}, Node ${process.version}; seeded in ${seeded.toFixed(0)} s:\n`)
    process.stdout.write(`${Object.entries(counts!).map(([k, v]) => `${k} ${v.toLocaleString('en-US')}`).join(', ')}\n\n`)
    process.stdout.write('Each statement as written, on the largest window it runs on (the daily rollups and the dataset series: 30 days; the live series statements: 25 hours):\n')
    printRows(rows, 50)
    process.stdout.write('\nFor the ratio, the per-user statements before the rollups, on the same whole month, and the cost windows before the covering index:\n')
    printRows(before, 50)
    const ratio = (name: string, then: Row) => {
      const after = rows.find((r) => r.name === name)!
      return `p50 ${(then.p50 / after.p50).toFixed(1)}x, p95 ${(then.p95 / after.p95).toFixed(1)}x`
    }
    process.stdout.write(`before / after: costPerUser ${ratio('costPerUser (a whole month)', before[0]!)}; topUsers ${ratio('topUsers (a whole month)', before[1]!)}\n`)
    for (const [name, then] of coverBaseline) process.stdout.write(`before / after migration 0008: ${name} ${ratio(name, then)}\n`)
    process.stdout.write('\nThe series as lora metrics reads them:\n')
    printRows(series, 50)
    process.stdout.write('\nWrite cost of the daily rollups\' triggers (migration 0007): the daemon\'s statements, ms per statement (median), triggers enabled / disabled, rolled back:\n')
    for (const w of writes) {
      process.stdout.write(`  ${w.name} (x${w.statements}): ${w.withTriggers.toFixed(3)} / ${w.without.toFixed(3)} ms = ${(w.withTriggers / w.without).toFixed(2)}x\n`)
    }
    process.stdout.write('\n')
    printRows([whole, healthInProcess], null)
    process.stdout.write('\n')
    printRows(
      [
        { name: 'lora health --json (end to end, process)', runs: CLI_RUNS, p50: percentile(health, 0.5), p95: percentile(health, 0.95), max: health.at(-1)! },
        { name: 'lora metrics --json (end to end, process)', runs: 5, p50: percentile(metricsCli, 0.5), p95: percentile(metricsCli, 0.95), max: metricsCli.at(-1)! },
        { name: 'lora --version (baseline: a process)', runs: 10, p50: percentile(baseline, 0.5), p95: percentile(baseline, 0.95), max: baseline.at(-1)! },
        { name: 'lora db status --json (baseline: opens the database)', runs: 5, p50: percentile(dbStatus, 0.5), p95: percentile(dbStatus, 0.95), max: dbStatus.at(-1)! },
      ],
      500,
    )
    process.stdout.write(`\nhealth checks of one run (ms): ${report.checks.map((c) => `${c.name} ${c.duration_ms}`).join(', ')}\n`)
    process.stdout.write(`statements over the target: ${[...rows, ...series].filter((r) => r.p95 >= 50).map((r) => r.name).join(', ') || 'none'}\n`)
    const [load] = await import('node:os').then((os) => os.loadavg())
    process.stdout.write(`load average while measuring: ${load!.toFixed(1)} on ${(await import('node:os')).availableParallelism()} CPUs\n`)
  } finally {
    for (const close of closers) await close().catch(() => {})
    await db.close()
    const dropper = await openPostgres({ url, max: 1 })
    await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await dropper.close()
    rmSync(work, { recursive: true, force: true })
    if (typeof teardown === 'function') teardown()
  }
}

await main()
