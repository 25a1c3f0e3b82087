import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { z } from 'zod'
import { backends, type TestDb } from '../helpers/db.js'
import { testContext } from '../helpers/context.js'
import { FakeClock } from '../../src/clock.js'
import { optionIssueToError } from '../../src/cli.js'
import * as list from '../../commands/jobs-list.js'
import * as show from '../../commands/jobs-show.js'
import { at, insertDataset, insertJob, insertPoints, OTHER_USER, T0, USER } from './fixtures.js'

const NOW = at(30)

function parse<S extends z.ZodType>(schema: S, input: Record<string, unknown>): z.infer<S> {
  const parsed = schema.safeParse({ json: false, ...input })
  if (!parsed.success) throw optionIssueToError(parsed.error.issues as never)
  return parsed.data
}

const JOB_KEYS = [
  'id', 'user_id', 'dataset_id', 'dataset_name', 'preset_id', 'status', 'current_stage', 'progress', 'current_epoch', 'total_epochs',
  'current_step', 'total_steps', 'current_metrics', 'hyperparameters', 'gpu_config', 'external_job_id', 'cluster_name',
  'estimated_total_cost', 'estimated_duration_hours', 'current_cost', 'final_cost', 'cost_source', 'billed_gpu_seconds', 'error_message', 'error_type',
  'counts_toward_limit', 'wait_reason', 'attempts', 'claimed_by', 'lease_expires_at', 'artifact_id', 'created_at', 'started_at',
  'completed_at', 'updated_at',
]

for (const backend of backends) {
  describe.skipIf(!backend.available)(`jobs list and show (${backend.name})`, () => {
    let db: TestDb
    let datasetId: string
    const ids = { running: '', queued: '', failed: '', other: '' }
    beforeAll(async () => {
      db = await backend.open()
      datasetId = await insertDataset(db)
      ids.running = await insertJob(db, {
        datasetId, status: 'running', stage: 'training', progress: 45, epoch: 1, step: 135, currentCost: 0.18,
        metrics: { training_loss: 1.2345, learning_rate: 0.0003, throughput: 2450, gpu_utilization: 95.1 },
        externalId: 'sim-abc', cluster: 'sim', createdAt: T0, startedAt: at(1), updatedAt: at(11),
      })
      ids.queued = await insertJob(db, { datasetId, waitReason: 'monthly budget of $200.00 reached ($201.00 spent)', createdAt: at(5) })
      ids.failed = await insertJob(db, {
        datasetId, status: 'failed', progress: 12.5, epoch: 1, step: 40, finalCost: 0.05, currentCost: 0.05, error: 'CUDA out of memory',
        createdAt: at(-2 * 24 * 60), startedAt: at(-2 * 24 * 60 + 1), completedAt: at(-2 * 24 * 60 + 4), updatedAt: at(-2 * 24 * 60 + 4),
      })
      const theirs = await insertDataset(db, { name: 'their-set', userId: OTHER_USER })
      ids.other = await insertJob(db, {
        datasetId: theirs, userId: OTHER_USER, status: 'completed', progress: 100, epoch: 1, step: 300, finalCost: 0.21, currentCost: 0.21,
        createdAt: at(-8 * 24 * 60), startedAt: at(-8 * 24 * 60), completedAt: at(-8 * 24 * 60 + 11), updatedAt: at(-8 * 24 * 60 + 11),
      })
      await insertPoints(db, ids.running, [
        { step: 10, loss: 2.4 }, { step: 40, loss: 1.9 }, { step: 70, loss: 1.6 }, { step: 100, loss: 1.4 }, { step: 135, loss: 1.2345, at: at(11) },
      ])
      await db.query(
        `INSERT INTO cost_records (user_id, job_id, cost_type, amount, details, billing_period, recorded_at) VALUES ($1, $2, 'training_compute', 0.05, '{}', '2026-03-08', $3)`,
        [USER, ids.failed, at(-2 * 24 * 60 + 4)],
      )
    })
    afterAll(async () => {
      await db?.close()
    })

    it('lists newest first as tab-separated values when piped, with the live cost and why a job waits or failed', async () => {
      const t = testContext({ db, clock: new FakeClock(NOW) })
      await list.run(parse(list.Options, {}), t.ctx)
      expect(t.stdout()).toBe(
        [
          'id\tuser_id\tdataset\tstatus\tprogress\tepoch\tcost\tcreated_at\treason',
          `${ids.queued}\t${USER}\tsupport-chats\tqueued\t0.00\t0/1\t0.00\t2026-03-10T12:05:00.000Z\tmonthly budget of $200.00 reached ($201.00 spent)`,
          // Running 29 minutes on one A10G at $1.10/h: $0.53 so far, ahead of the $0.18 the daemon last wrote.
          `${ids.running}\t${USER}\tsupport-chats\trunning\t45.00\t1/1\t0.53\t2026-03-10T12:00:00.000Z\t`,
          `${ids.failed}\t${USER}\tsupport-chats\tfailed\t12.50\t1/1\t0.05\t2026-03-08T12:00:00.000Z\tCUDA out of memory`,
          `${ids.other}\t${OTHER_USER}\ttheir-set\tcompleted\t100.00\t1/1\t0.21\t2026-03-02T12:00:00.000Z\t`,
          '',
        ].join('\n'),
      )
      expect(t.stderr()).toBe('')
    })

    it('filters by status, user, age and count', async () => {
      const idsOf = async (input: Record<string, unknown>) => {
        const t = testContext({ db, clock: new FakeClock(NOW) })
        await list.run(parse(list.Options, { ...input, json: true }), t.ctx)
        return (JSON.parse(t.stdout()) as { jobs: { id: string }[] }).jobs.map((j) => j.id)
      }
      expect(await idsOf({ status: 'running,failed' })).toEqual([ids.running, ids.failed])
      expect(await idsOf({ status: 'active' })).toEqual([ids.queued, ids.running])
      expect(await idsOf({ user: OTHER_USER })).toEqual([ids.other])
      expect(await idsOf({ since: '7d' })).toEqual([ids.queued, ids.running, ids.failed])
      expect(await idsOf({ since: '1h', limit: '1' })).toEqual([ids.queued])
    })

    it('prints the jobs as JSON with the stable field names', async () => {
      const t = testContext({ db, clock: new FakeClock(NOW) })
      await list.run(parse(list.Options, { status: 'running', json: true }), t.ctx)
      const out = JSON.parse(t.stdout()) as { jobs: Record<string, unknown>[] }
      expect(Object.keys(out)).toEqual(['jobs'])
      expect(Object.keys(out.jobs[0]!)).toEqual(JOB_KEYS)
      expect(out.jobs[0]).toMatchObject({ id: ids.running, status: 'running', progress: 45, current_cost: 0.18, created_at: T0.toISOString(), started_at: at(1).toISOString() })
    })

    it('draws a table on a terminal, coloured unless NO_COLOR', async () => {
      const t = testContext({ db, tty: true, clock: new FakeClock(NOW) })
      await list.run(parse(list.Options, {}), t.ctx)
      expect(t.stdout()).toContain('\x1b[32mrunning\x1b[39m')
      const out = t.stdout().replace(/\x1b\[[0-9;]*m/g, '')
      expect(out).toMatch(/│ ID +│ User +│ Dataset +│ Status +│ Progress │ Epoch │ +Cost │ Age │ Reason/)
      expect(out).toMatch(new RegExp(`│ ${ids.running.slice(0, 8)} │ 00000000 │ support-chats │ running +│ +45\\.0% │ +1/1 │ \\$0\\.53 │ 30m │ - +│`))
      expect(out).toMatch(/│ +8d │/)
      const plain = testContext({ db, tty: true, clock: new FakeClock(NOW), env: { NO_COLOR: '1' } })
      await list.run(parse(list.Options, {}), plain.ctx)
      expect(plain.stdout()).not.toMatch(/\x1b\[/)
      // Fitted to 120 columns, the reason is cut; --wide shows it, and the ids, whole.
      expect(Math.max(...plain.stdout().trimEnd().split('\n').map((l) => l.length))).toBeLessThanOrEqual(120)
      expect(plain.stdout()).toContain('│ monthly budget of $200.00 reache… │')
      const wide = testContext({ db, tty: true, wide: true, clock: new FakeClock(NOW), env: { NO_COLOR: '1' } })
      await list.run(parse(list.Options, {}), wide.ctx)
      expect(wide.stdout()).toContain('monthly budget of $200.00 reached ($201.00 spent)')
      expect(wide.stdout()).toContain(`│ ${ids.running} │ 00000000-0000-4000-8000-00000000a11c │`)
    })

    it('refuses a bad --status, --since or --limit as a usage error naming the flag', () => {
      const message = (input: Record<string, unknown>) => {
        try {
          parse(list.Options, input)
        } catch (error) {
          return [(error as Error).message, (error as { exitCode: number }).exitCode]
        }
        return null
      }
      expect(message({ status: 'running,done' })).toEqual(['Invalid --status: "done" is not a job status (queued, initializing, running, completed, failed, cancelled, or active).', 2])
      expect(message({ since: 'last week' })).toEqual(['Invalid --since: expected a duration of at least 1s such as 2s, 10m or 7d (got "last week").', 2])
      expect(message({ limit: '0' })).toEqual(['Invalid --limit: must be an integer from 1 to 10000 (got "0").', 2])
      expect(message({ user: 'bob' })).toEqual(['Invalid --user: expected a user id (a UUID), got "bob".', 2])
    })

    it('shows a job piped as key and value lines, then its cost records and metrics points', async () => {
      const t = testContext({ db, clock: new FakeClock(NOW) })
      await show.run(parse(show.Options, { args: ids.failed }), t.ctx)
      expect(t.stdout()).toBe(
        [
          `id\t${ids.failed}`, 'status\tfailed', 'stage\tfailed', `user_id\t${USER}`, `dataset_id\t${datasetId}`, 'dataset_name\tsupport-chats',
          'preset\tfast', 'progress\t12.5', 'epoch\t1/1', 'step\t40/300', 'eta_seconds\t', 'training_loss\t', 'validation_loss\t',
          'learning_rate_now\t', 'throughput\t', 'gpu_utilization\t',
          'hyperparameters.lora_rank\t8', 'hyperparameters.base_model\tmistralai/Mistral-7B-v0.1', 'hyperparameters.batch_size\t8',
          'hyperparameters.lora_alpha\t16', 'hyperparameters.num_epochs\t1', 'hyperparameters.lora_dropout\t0.05', 'hyperparameters.learning_rate\t0.0003',
          'gpu_config.gpu_type\tA10G', 'gpu_config.num_gpus\t1', 'gpu_config.cost_per_gpu_hour\t1.1',
          'current_cost\t0.05', 'final_cost\t0.05', 'estimated_total_cost\t0.19', 'estimated_duration_hours\t0.174',
          'external_job_id\t', 'cluster_name\t', 'attempts\t0', 'claimed_by\t', 'lease_expires_at\t', 'wait_reason\t', 'error_type\t',
          'error_message\tCUDA out of memory', 'created_at\t2026-03-08T12:00:00.000Z', 'started_at\t2026-03-08T12:01:00.000Z',
          'completed_at\t2026-03-08T12:04:00.000Z', 'updated_at\t2026-03-08T12:04:00.000Z', 'artifact_status\t', 'artifact_path\t',
          '',
          'recorded_at\tcost_type\tamount\tbilling_period',
          '2026-03-08T12:04:00.000Z\ttraining_compute\t0.05\t2026-03-08',
          '',
          'step\tepoch\ttraining_loss\tvalidation_loss\tlearning_rate\tthroughput\tgpu_util\ttimestamp',
          '',
        ].join('\n'),
      )
      expect(t.stderr()).toBe('')
    })

    it('shows a job as JSON: the job, its dataset, the last metrics points oldest first, its cost records and artifact', async () => {
      const t = testContext({ db, clock: new FakeClock(NOW) })
      await show.run(parse(show.Options, { args: ids.running, json: true }), t.ctx)
      const out = JSON.parse(t.stdout()) as Record<string, unknown> & { job: Record<string, unknown>; metrics: { step: number }[] }
      expect(Object.keys(out)).toEqual(['job', 'dataset', 'metrics', 'cost_records', 'artifact'])
      expect(Object.keys(out.job)).toEqual(JOB_KEYS)
      expect(out.dataset).toEqual({ id: datasetId, name: 'support-chats', format: 'completion', total_training_pairs: 1200, total_tokens: 200000 })
      expect(out.metrics.map((m) => m.step)).toEqual([10, 40, 70, 100, 135])
      expect(out.metrics[4]).toEqual({
        timestamp: at(11).toISOString(), epoch: 1, step: 135, training_loss: 1.2345, validation_loss: null, learning_rate: 0.0003,
        gradient_norm: null, throughput: 2450, gpu_utilization: 95.1,
      })
      expect(out.cost_records).toEqual([])
      expect(out.artifact).toBeNull()
    })

    it('shows the monitor page on a terminal: status, progress bar, metrics, configuration, loss chart', async () => {
      // A minute after the daemon's last update: the ETA counts down from 12m13s, the cost up.
      const t = testContext({ db, tty: true, clock: new FakeClock(at(12)) })
      await show.run(parse(show.Options, { args: ids.running }), t.ctx)
      const out = t.stdout()
      expect(out).toContain('\x1b[32m● Running\x1b[39m · training')
      expect(out).toMatch(/Progress +\x1b\[32m█{14}\x1b\[39m\x1b\[90m░{16}\x1b\[39m 45\.0% {2}epoch 1\/1 · step 135\/300 · ETA 5m55s\n/)
      expect(out).toContain('Loss      training 1.2345 · validation -')
      expect(out).toContain('Speed     2,450 tokens/s · GPU 95.1% · learning rate 0.0003')
      expect(out).toContain('Cost      $0.20 so far · est. $0.19 over 0.174 h')
      expect(out).toContain('  hourly rate   $1.10/h')
      expect(out).toContain('  external job id  sim-abc')
      expect(out).toContain('Loss over steps 10–135')
      // The axis from the first loss down to the last, the curve drawn in the training colour.
      expect(out).toMatch(/\n {3}2\.400 \x1b\[33m┼\x1b\[0m\x1b\[33m╮/)
      expect(out).toMatch(/\n {3}1\.234 ┤ {3}\x1b\[33m╰/)
      expect(out).toContain('\x1b[33m━━\x1b[39m training\n')
      expect(out).toContain('Last metrics points (5 of 5 shown; --json for all)')
    })

    it('says a malformed id is a usage error (exit 2) and an unknown one is not found (exit 1)', async () => {
      expect(() => parse(show.Options, { args: 'abc' })).toThrow('Invalid argument: a job id prefix needs at least 4 characters (got "abc").')
      const t = testContext({ db, clock: new FakeClock(NOW) })
      await expect(show.run(parse(show.Options, { args: '00000000-0000-4000-8000-0000000000ff' }), t.ctx)).rejects.toMatchObject({
        exitCode: 1,
        message: 'No training job has id 00000000-0000-4000-8000-0000000000ff.',
      })
    })
  })
}
