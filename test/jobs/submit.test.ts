import { afterEach, describe, expect, it } from 'vitest'
import { backends, pgUrl, type TestDb } from '../helpers/db.js'
import { testConfig, testContext } from '../helpers/context.js'
import { FakeClock } from '../../src/clock.js'
import { optionIssueToError } from '../../src/cli.js'
import { Options, run } from '../../commands/jobs-submit.js'
import { daemonHarness, type DaemonHarness } from '../helpers/daemon.js'
import { runCycle } from '../../src/daemon/cycle.js'
import { count, insertDataset, KEY, OTHER_USER, scriptedTerminal, setLimit, T0, until, USER, watchSession, PRIMARY } from './fixtures.js'

type Opts = Parameters<typeof run>[0]
const opts = (o: Partial<Record<keyof Opts, unknown>>): Opts => {
  const parsed = Options.safeParse(o)
  if (!parsed.success) throw optionIssueToError(parsed.error.issues)
  return parsed.data
}
const parseError = (o: Record<string, unknown>) => {
  const parsed = Options.safeParse(o)
  if (parsed.success) throw new Error(`accepted ${JSON.stringify(o)}`)
  return optionIssueToError(parsed.error.issues)
}
const jobs = (db: TestDb) => count(db, 'SELECT 1 FROM training_jobs')

describe('jobs submit: flags', () => {
  it('refuses hyperparameters out of range, naming the flag and the allowed range (exit 2)', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ epochs: '0' }, 'Invalid --epochs: must be an integer from 1 to 100 (got "0").'],
      [{ epochs: '101' }, 'Invalid --epochs: must be an integer from 1 to 100 (got "101").'],
      [{ epochs: '2.5' }, 'Invalid --epochs: must be an integer from 1 to 100 (got "2.5").'],
      [{ learningRate: '0.5' }, 'Invalid --learning-rate: must be a number from 1e-6 to 1e-2 (got "0.5").'],
      [{ learningRate: 'fast' }, 'Invalid --learning-rate: must be a number from 1e-6 to 1e-2 (got "fast").'],
      [{ rank: '512' }, 'Invalid --rank: must be an integer from 1 to 256 (got "512").'],
      [{ gpus: '0' }, 'Invalid --gpus: must be an integer from 1 to 8 (got "0").'],
      [{ gpus: '9' }, 'Invalid --gpus: must be an integer from 1 to 8 (got "9").'],
      [{ preset: 'turbo' }, 'Invalid --preset: must be fast, balanced or quality (got "turbo").'],
      [{ user: 'alice' }, 'Invalid --user: expected a user id (a UUID), got "alice".'],
      [{ interval: 'soon' }, 'Invalid --interval: expected a duration of at least 100ms such as 2s, 10m or 7d (got "soon").'],
    ]
    for (const [input, message] of cases) {
      const error = parseError({ json: false, ...input })
      expect(error.message).toBe(message)
      expect(error.exitCode).toBe(2)
    }
    expect(opts({ epochs: '100', learningRate: '1e-6', rank: '256', gpus: '8', json: false })).toMatchObject({ epochs: 100, learningRate: 1e-6, rank: 256, gpus: 8 })
  })
})

for (const backend of backends) {
  describe.skipIf(!backend.available)(`jobs submit (${backend.name})`, () => {
    let db: TestDb | undefined
    let h: DaemonHarness | undefined
    afterEach(async () => {
      await db?.close()
      await h?.close()
      db = undefined
      h = undefined
    })
    const setup = async () => {
      db = await backend.open()
      const datasetId = await insertDataset(db)
      await setLimit(db, 0, 10)
      return { db, datasetId }
    }

    it('queues the job and prints its id alone when piped; the counter moves in the same transaction', async () => {
      const { db, datasetId } = await setup()
      const t = testContext({ db, clock: new FakeClock(T0) })
      const code = await run(opts({ yes: true, dataset: 'support-chats', preset: 'fast', user: USER, json: false }), t.ctx)
      expect(code).toBe(0)
      const [job] = await db.query<Record<string, unknown>>('SELECT id, status, dataset_id, preset_id, hyperparameters, gpu_config, estimated_total_cost, estimated_duration_hours, created_at FROM training_jobs')
      expect(t.stdout()).toBe(`${job!.id}\n`)
      expect(t.stderr()).toBe('')
      expect(job).toMatchObject({
        status: 'queued',
        dataset_id: datasetId,
        preset_id: 'fast',
        hyperparameters: { num_epochs: 1, learning_rate: 0.0003, lora_rank: 8, lora_alpha: 16 },
        gpu_config: { gpu_type: 'A10G', num_gpus: 1, cost_per_gpu_hour: 1.1 },
        // 200,000 tokens at 900 tokens/s x 0.9, plus 0.1 h: 0.169 h at $1.10 = $0.19.
        estimated_total_cost: 0.19,
        estimated_duration_hours: 0.169,
        created_at: T0,
      })
      const [limit] = await db.query<{ n: number }>('SELECT loras_created_this_month AS n FROM user_training_limits WHERE user_id = $1', [USER])
      expect(limit!.n).toBe(1)
    })

    it('prints the job and the estimate as JSON, with overrides applied and alpha keeping the ratio', async () => {
      const { db, datasetId } = await setup()
      const t = testContext({ db, clock: new FakeClock(T0) })
      await run(opts({ yes: true, dataset: datasetId, preset: 'balanced', epochs: '2', learningRate: '1e-4', rank: '64', gpuType: 'H100', gpus: '2', user: USER, json: true }), t.ctx)
      const out = JSON.parse(t.stdout()) as { job: Record<string, unknown>; estimate: Record<string, unknown> }
      expect(Object.keys(out)).toEqual(['job', 'estimate'])
      expect(out.job).toMatchObject({
        user_id: USER,
        dataset_id: datasetId,
        dataset_name: 'support-chats',
        preset_id: 'balanced',
        status: 'queued',
        hyperparameters: { num_epochs: 2, learning_rate: 0.0001, lora_rank: 64, lora_alpha: 128, batch_size: 8 },
        gpu_config: { gpu_type: 'H100', num_gpus: 2, cost_per_gpu_hour: 4.5 },
        created_at: T0.toISOString(),
      })
      // 400,000 tokens at 5200 x 2 x 0.9 tokens/s = 0.0119 h, + 0.1 h; $9.00/h.
      expect(out.estimate).toEqual({ hours: 0.112, total_cost: 1.01, hourly_rate: 9 })
      expect(t.stderr()).toBe('')
    })

    // Runs on one database only (the real server when there is one): it tests the command, not the driver.
    if (backend === PRIMARY) it('prompts at a terminal for the dataset, the preset and the GPU, shows the estimate, and submits on confirmation', async () => {
      const { db } = await setup()
      await insertDataset(db, { name: 'older-set', tokens: 50_000, createdAt: new Date('2026-03-01T00:00:00Z') })
      await insertDataset(db, { name: 'not-yet', status: 'uploading' })
      const term = scriptedTerminal([
        { expect: 'Dataset', keys: KEY.down + KEY.enter },
        { expect: 'Preset', keys: KEY.up + KEY.enter },
        { expect: 'GPU type', keys: KEY.enter },
        { expect: 'Submit this job?', keys: 'y' + KEY.enter },
      ])
      const t = testContext({ db, tty: true, clock: new FakeClock(T0), prompter: term.prompter })
      const code = await run(opts({ user: USER, json: false }), t.ctx)
      expect(code).toBe(0)
      expect(term.answered()).toBe(4)
      // Only the ready datasets were offered, newest first.
      expect(term.screen()).toContain('support-chats  (1,200 pairs, 200,000 tokens)')
      expect(term.screen()).not.toContain('not-yet')
      const [job] = await db.query<{ id: string; preset_id: string; gpu_config: Record<string, unknown>; dataset_name: string }>(
        'SELECT j.id, j.preset_id, j.gpu_config, d.name AS dataset_name FROM training_jobs j JOIN datasets d ON d.id = j.dataset_id',
      )
      // The second dataset, the preset above the default (fast), and the GPU offered first: the preset's own.
      expect(job).toMatchObject({ dataset_name: 'older-set', preset_id: 'fast', gpu_config: { gpu_type: 'A10G', num_gpus: 1 } })
      expect(t.stderr()).toContain('Training job:')
      expect(t.stderr()).toMatch(/ {2}estimate +\$1\.10\/h x 1 GPU x 0\.117 h = \$0\.13\n/)
      expect(t.stdout()).toBe(`Submitted job ${job!.id}: fast on 1x A10G, estimated $0.13 over 0.117 h.\n`)
    })

    // Runs on one database only (the real server when there is one): it tests the command, not the driver.
    if (backend === PRIMARY) it('writes nothing when the confirmation is declined (exit 1), and exits 130 when the prompt is abandoned', async () => {
      const { db } = await setup()
      const declined = scriptedTerminal([{ expect: 'Submit this job?', keys: 'n' + KEY.enter }])
      const t = testContext({ db, tty: true, clock: new FakeClock(T0), prompter: declined.prompter })
      expect(await run(opts({ user: USER, dataset: 'support-chats', preset: 'fast', json: false }), t.ctx)).toBe(1)
      expect(t.stderr()).toContain('Not submitted.')
      const abandoned = scriptedTerminal([{ expect: 'Preset', keys: KEY.ctrlC }])
      const t2 = testContext({ db, tty: true, clock: new FakeClock(T0), prompter: abandoned.prompter })
      await expect(run(opts({ user: USER, dataset: 'support-chats', json: false }), t2.ctx)).rejects.toMatchObject({ exitCode: 130 })
      expect(await jobs(db)).toBe(0)
      // --yes skips the confirmation, not the questions.
      const yes = scriptedTerminal([{ expect: 'Preset', keys: KEY.enter }, { expect: 'GPU type', keys: KEY.enter }])
      const t3 = testContext({ db, tty: true, clock: new FakeClock(T0), prompter: yes.prompter })
      expect(await run(opts({ user: USER, dataset: 'support-chats', yes: true, json: false }), t3.ctx)).toBe(0)
      expect(t3.stderr()).not.toContain('Training job:')
      expect((await db.query<{ preset_id: string }>('SELECT preset_id FROM training_jobs'))[0]!.preset_id).toBe('balanced')
    })

    it('asks nothing without a terminal: a missing dataset or user is a usage error naming the flag; the preset defaults to balanced', async () => {
      const { db } = await setup()
      const t = testContext({ db, clock: new FakeClock(T0) })
      await expect(run(opts({ yes: true, user: USER, json: false }), t.ctx)).rejects.toMatchObject({
        exitCode: 2,
        message: 'Missing --dataset: pass --dataset ID|NAME (a ready dataset of the user).',
      })
      await expect(run(opts({ yes: true, dataset: 'support-chats', json: false }), t.ctx)).rejects.toMatchObject({
        exitCode: 2,
        message: 'Missing --user: pass --user UUID (the user the job is for), or set LORA_USER_ID.',
      })
      await expect(run(opts({ yes: true, dataset: 'support-chats', gpuType: 'Z80', user: USER, json: false }), t.ctx)).rejects.toMatchObject({
        exitCode: 2,
        message: 'Invalid --gpu-type: "Z80" is not a GPU type of profile test (one of A100-80GB, A100-40GB, H100, A10G, L4).',
      })
      expect(await jobs(db)).toBe(0)
      const withEnv = testContext({ db, clock: new FakeClock(T0), env: { LORA_USER_ID: USER } })
      expect(await run(opts({ yes: true, dataset: 'support-chats', json: false }), withEnv.ctx)).toBe(0)
      expect((await db.query<{ preset_id: string; user_id: string }>('SELECT preset_id, user_id FROM training_jobs'))[0]).toEqual({ preset_id: 'balanced', user_id: USER })
    })

    it('spends nothing without a terminal unless --yes is passed (exit 2); --dry-run shows the job and writes nothing', async () => {
      const { db, datasetId } = await setup()
      const t = testContext({ db, clock: new FakeClock(T0) })
      await expect(run(opts({ dataset: 'support-chats', preset: 'fast', user: USER, json: false }), t.ctx)).rejects.toMatchObject({
        exitCode: 2,
        code: 'confirmation_required',
        message: 'Submitting a job needs --yes without a terminal.',
      })
      expect(t.stdout()).toBe('')
      const dry = testContext({ db, clock: new FakeClock(T0) })
      expect(await run(opts({ dataset: 'support-chats', preset: 'fast', user: USER, dryRun: true, json: false }), dry.ctx)).toBe(0)
      expect(dry.stdout()).toBe('')
      expect(dry.stderr()).toMatch(new RegExp(`^Training job:\\n  user +${USER}\\n  dataset +support-chats \\(${datasetId}\\)[^]*\\ndry run: would submit this job; nothing written\\.\\n$`))
      const dryJson = testContext({ db, clock: new FakeClock(T0) })
      expect(await run(opts({ dataset: datasetId.slice(0, 8), preset: 'fast', user: USER, dryRun: true, json: true }), dryJson.ctx)).toBe(0)
      expect(JSON.parse(dryJson.stdout())).toMatchObject({ dry_run: true, plan: { user_id: USER, dataset_id: datasetId, preset_id: 'fast' }, estimate: { total_cost: expect.any(Number) } })
      expect(await jobs(db)).toBe(0)
      const [limit] = await db.query<{ n: number }>('SELECT loras_created_this_month AS n FROM user_training_limits WHERE user_id = $1', [USER])
      expect(limit!.n).toBe(0)
    })

    it('refuses, with the reason and nothing written, a dataset that is missing, not ready or another user\'s (exit 1)', async () => {
      const { db } = await setup()
      const failedId = await insertDataset(db, { name: 'broken', status: 'failed' })
      const theirs = await insertDataset(db, { name: 'theirs', userId: OTHER_USER })
      const t = testContext({ db, clock: new FakeClock(T0) })
      const attempt = (dataset: string) => run(opts({ yes: true, dataset, user: USER, preset: 'fast', json: false }), t.ctx)
      await expect(attempt('nope')).rejects.toMatchObject({ exitCode: 1, message: `User ${USER} has no dataset named "nope".` })
      await expect(attempt('00000000-0000-4000-8000-0000000000ff')).rejects.toMatchObject({ exitCode: 1, message: 'Dataset 00000000-0000-4000-8000-0000000000ff does not exist.' })
      await expect(attempt('broken')).rejects.toMatchObject({
        exitCode: 1,
        message: `Dataset broken (${failedId}) is not ready (its status is failed): it cannot be trained on.`,
      })
      await expect(attempt(theirs)).rejects.toMatchObject({ exitCode: 1, message: `Dataset theirs (${theirs}) belongs to another user, not to ${USER}.` })
      await insertDataset(db, { name: 'support-chats', createdAt: new Date('2026-03-02T00:00:00Z') })
      await expect(attempt('support-chats')).rejects.toMatchObject({ exitCode: 2, code: 'ambiguous_id' })
      expect(await jobs(db)).toBe(0)
      expect(t.stdout()).toBe('')
    })

    it('refuses a user over the monthly limit and a system over the monthly budget, writing nothing (exit 1)', async () => {
      const { db, datasetId } = await setup()
      await setLimit(db, 10, 10)
      const t = testContext({ db, clock: new FakeClock(T0) })
      await expect(run(opts({ yes: true, dataset: datasetId, user: USER, json: false }), t.ctx)).rejects.toMatchObject({
        exitCode: 1,
        code: 'user_limit_reached',
        message: `User ${USER} has used all 10 training jobs of this month.`,
      })
      await setLimit(db, 0, 10)
      await db.query(
        `INSERT INTO cost_records (user_id, cost_type, amount, billing_period, recorded_at) VALUES ($1, 'training_compute', 200, '2026-03-05', $2)`,
        [USER, new Date('2026-03-05T00:00:00Z')],
      )
      await expect(run(opts({ yes: true, dataset: datasetId, user: USER, json: false }), t.ctx)).rejects.toMatchObject({
        exitCode: 1,
        code: 'budget_exceeded',
        message: 'The monthly training budget of $200.00 is used up ($200.00 committed).',
      })
      expect(await jobs(db)).toBe(0)
      const [limit] = await db.query<{ n: number }>('SELECT loras_created_this_month AS n FROM user_training_limits WHERE user_id = $1', [USER])
      expect(limit!.n).toBe(0)
    })

    // Runs on one database only (the real server when there is one): it tests the command, not the driver.
    if (backend === PRIMARY) it('with --watch --json, streams the queued job, then its changes as the daemon runs it, and exits by its end', async () => {
      h = await daemonHarness(backend, { simulator: { jobFailRate: 1 } })
      const session = watchSession(h)
      const t = testContext({ db: session.db, config: h.config, clock: session.clock })
      const submitting = run(opts({ yes: true, dataset: h.datasetId, user: USER, preset: 'fast', watch: true, interval: '1h', json: true }), t.ctx)
      let settled = false
      void submitting.finally(() => (settled = true))
      await until(() => t.stdout().split('\n').length > 2, 'the job and its first event')
      const submitted = (JSON.parse(t.stdout().split('\n')[0]!) as { job: { id: string } }).job.id
      const env = await h.env()
      let cycles = 0
      for (; cycles < 40 && !settled; cycles++) {
        await runCycle(env, { batch: 20, concurrency: 8, pollLimit: 1000 })
        h.clock.advance(5 * 60_000)
        await session.caughtUp(submitted, () => settled)
      }
      expect(settled).toBe(true)
      expect(cycles).toBeLessThan(40)
      expect(await submitting).toBe(1)
      const [first, ...events] = t.stdout().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
      expect(Object.keys(first!)).toEqual(['job', 'estimate'])
      const job = first!.job as { id: string; status: string }
      expect(job.status).toBe('queued')
      expect(events[0]).toMatchObject({ id: job.id, status: 'queued' })
      expect(events[events.length - 1]).toMatchObject({ id: job.id, status: 'failed', error_message: expect.any(String) })
      expect(t.stderr()).toMatch(new RegExp(`^Job ${job.id} failed: .+\\.\\n$`))
    })

    it('warns on stderr when the job takes the month past the budget\'s warning ratio', async () => {
      const { db, datasetId } = await setup()
      await db.query(`INSERT INTO cost_records (user_id, cost_type, amount, billing_period, recorded_at) VALUES ($1, 'training_compute', 150, '2026-03-05', $2)`, [USER, new Date('2026-03-05T00:00:00Z')])
      const t = testContext({ db, clock: new FakeClock(T0) })
      expect(await run(opts({ yes: true, dataset: datasetId, user: USER, preset: 'fast', json: false }), t.ctx)).toBe(0)
      expect(t.stderr()).toBe("warning: with this job's estimate, this month's training spend reaches $150.19 of the $200.00 budget (75%).\n")
    })

    it('counts what running jobs hold (their estimates), and warns that a job the budget cannot hold will wait', async () => {
      const { db, datasetId } = await setup()
      await db.query(`INSERT INTO cost_records (user_id, cost_type, amount, billing_period, recorded_at) VALUES ($1, 'training_compute', 100, '2026-03-01', $2)`, [USER, new Date('2026-03-05T00:00:00Z')])
      // Running, $1 so far, estimated at $99.90: it holds $99.90 of the budget.
      await db.query(`INSERT INTO training_jobs (user_id, dataset_id, status, estimated_total_cost, current_cost) VALUES ($1, $2, 'running', 99.9, 1)`, [USER, datasetId])
      const t = testContext({ db, clock: new FakeClock(T0) })
      expect(await run(opts({ yes: true, dataset: datasetId, user: USER, preset: 'fast', json: false }), t.ctx)).toBe(0)
      expect(t.stderr()).toBe('warning: the job waits in the queue until the budget holds it (monthly budget: $199.90 of $200.00 committed, this job needs $0.19).\n')
      expect(await jobs(db)).toBe(2)
    })
  })
}

describe.skipIf(!pgUrl)('jobs submit on real Postgres: two submits racing for the last slot', () => {
  it('lets exactly one pass, and the other is refused with nothing written', async () => {
    const postgres = backends.find((b) => b.name === 'postgres')!
    const db = await postgres.open()
    try {
      const datasetId = await insertDataset(db)
      for (let round = 0; round < 3; round++) {
        await db.query('DELETE FROM training_jobs')
        await setLimit(db, 9, 10)
        const other = await db.connectAgain!()
        const attempt = (target: TestDb | typeof other) =>
          run(opts({ yes: true, dataset: datasetId, user: USER, preset: 'fast', json: false }), testContext({ db: target, clock: new FakeClock(T0), config: testConfig() }).ctx)
        const results = await Promise.allSettled([attempt(db), attempt(other), attempt(db), attempt(other)])
        const passed = results.filter((r) => r.status === 'fulfilled')
        const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
        expect(passed).toHaveLength(1)
        expect(refused.map((r) => (r.reason as { code: string }).code)).toEqual(['user_limit_reached', 'user_limit_reached', 'user_limit_reached'])
        expect(await jobs(db)).toBe(1)
        const [limit] = await db.query<{ n: number }>('SELECT loras_created_this_month AS n FROM user_training_limits WHERE user_id = $1', [USER])
        expect(limit!.n).toBe(10)
      }
    } finally {
      await db.close()
    }
  })
})
