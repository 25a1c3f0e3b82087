import { afterEach, describe, expect, it } from 'vitest'
import { backends, pgUrl, type TestDb } from '../helpers/db.js'
import { testContext } from '../helpers/context.js'
import { daemonHarness, USER, type DaemonHarness } from '../helpers/daemon.js'
import { FakeClock } from '../../src/clock.js'
import type { Db } from '../../src/db/types.js'
import { optionIssueToError } from '../../src/cli.js'
import { runCycle } from '../../src/daemon/cycle.js'
import { applyPollResults, type PollUpdate } from '../../src/db/queries/poll.js'
import { cancelActiveJob, lockJobForCancel } from '../../src/db/queries/cancel.js'
import { Options, run } from '../../commands/jobs-cancel.js'
import { at, count, insertDataset, insertJob, KEY, scriptedTerminal, until, PRIMARY } from './fixtures.js'

const cancelOpts = (input: Record<string, unknown>) => {
  const parsed = Options.safeParse({ json: false, ...input })
  if (!parsed.success) throw optionIssueToError(parsed.error.issues)
  return parsed.data
}
const CYCLE = { batch: 20, concurrency: 8, pollLimit: 1000 }
const MIN = 60_000

async function jobState(db: Db, id: string) {
  const [job] = await db.query<{ status: string; final_cost: number | null; completed_at: Date | null; current_stage: string }>(
    'SELECT status, final_cost, completed_at, current_stage FROM training_jobs WHERE id = $1',
    [id],
  )
  const notes = await db.query<{ type: string; message: string; metadata: Record<string, unknown> }>('SELECT type, message, metadata FROM notifications WHERE job_id = $1 ORDER BY type', [id])
  const costs = await db.query<{ amount: number; details: Record<string, unknown> }>('SELECT amount, details FROM cost_records WHERE job_id = $1', [id])
  const artifacts = await count(db, 'SELECT 1 FROM model_artifacts WHERE job_id = $1', [id])
  return { ...job!, notes, costs, artifacts }
}

describe('jobs cancel: flags', () => {
  it('refuses malformed ids and an empty reason as usage errors', () => {
    expect(() => cancelOpts({ args: ['not-a-job'] })).toThrow('Invalid argument: expected a job id (a UUID, or its first 4 or more characters), got "not-a-job".')
    expect(() => cancelOpts({ args: [USER], reason: '  ' })).toThrow('Invalid --reason: expected some text.')
  })
})

for (const backend of backends) {
  describe.skipIf(!backend.available)(`jobs cancel (${backend.name})`, () => {
    let db: TestDb | undefined
    let h: DaemonHarness | undefined
    afterEach(async () => {
      await db?.close()
      await h?.close()
      db = undefined
      h = undefined
    })

    it('cancels a queued job in one guarded transaction: status, time, cost, notification, audit entry and NOTIFY', async () => {
      db = await backend.open()
      const id = await insertJob(db, { datasetId: await insertDataset(db) })
      const heard: string[] = []
      const unlisten = await db.listen('lora_jobs', (payload) => heard.push(payload))
      const t = testContext({ db, clock: new FakeClock(at(3)), env: { LORA_ACTOR: 'oncall@test' } })
      expect(await run(cancelOpts({ args: [id], yes: true, reason: 'wrong dataset' }), t.ctx)).toBe(0)
      expect(t.stdout()).toBe(`id\tresult\tstatus\tfinal_cost\tcluster\n${id}\tcancelled\tcancelled\t0.00\tnot_submitted\n`)
      expect(t.stderr()).toBe('')
      const state = await jobState(db, id)
      expect(state).toMatchObject({ status: 'cancelled', current_stage: 'cancelled', final_cost: 0, completed_at: at(3), costs: [], artifacts: 0 })
      expect(state.notes).toEqual([{ type: 'job_cancelled', message: 'Your training job was cancelled: wrong dataset', metadata: { job_id: id, final_cost: 0, reason: 'wrong dataset' } }])
      const audit = await db.query<Record<string, unknown>>('SELECT actor, action, target, count, details FROM lora_ops.audit_log')
      expect(audit).toEqual([{ actor: 'oncall@test', action: 'jobs.cancel', target: id, count: 1, details: { was: 'queued', final_cost: 0, reason: 'wrong dataset' } }])
      await until(() => heard.includes(`${id}:cancelled`), 'the NOTIFY')
      await unlisten?.()
    })

    it('cancels a running job on the GPU cluster, then locally with its cost so far; the daemon leaves it cancelled', async () => {
      h = await daemonHarness(backend)
      const [id] = await h.submit(1, 'fast')
      const env = await h.env()
      await runCycle(env, CYCLE)
      // Five minutes in: a fast job on this dataset runs about ten.
      h.clock.advance(5 * MIN)
      const t = testContext({ db: h.db, config: h.config, clock: h.clock })
      expect(await run(cancelOpts({ args: [id], yes: true, json: true }), t.ctx)).toBe(0)
      // Five minutes of one A10G at $1.10/h, less the seconds the run waited for it.
      expect(JSON.parse(t.stdout())).toEqual({ results: [{ id, outcome: 'cancelled', status: 'cancelled', final_cost: 0.09, cluster: 'cancelled', cluster_detail: null }] })
      expect(t.stderr()).toBe('')
      const [job] = await h.db.query<{ external_job_id: string }>('SELECT external_job_id FROM training_jobs WHERE id = $1', [id])
      const onCluster = await fetch(`${h.sim.url}/training/status/${job!.external_job_id}`).then((r) => r.json() as Promise<{ status: string }>)
      expect(onCluster.status).toBe('cancelled')
      h.clock.advance(10 * MIN)
      await runCycle(env, CYCLE)
      const state = await jobState(h.db, id!)
      expect(state).toMatchObject({ status: 'cancelled', final_cost: 0.09, artifacts: 0 })
      expect(state.notes.map((n) => n.type)).toEqual(['job_cancelled', 'job_started'])
      // From what the cluster billed until the cancel stopped it.
      expect(state.costs).toEqual([{
        amount: 0.09,
        details: { gpu_type: 'A10G', gpu_count: 1, duration_hours: 0.0833, status: 'cancelled', source: 'cluster', billed_gpu_seconds: expect.any(Number), month: '2026-03', final_cost: 0.09 },
      }])
      expect(state.costs[0]!.details.billed_gpu_seconds).toBeGreaterThan(0)
    })

    // Runs on one database only (the real server when there is one): it tests the command, not the driver.
    if (backend === PRIMARY) it('cancels locally when the cluster cannot be reached, and says so on stderr', async () => {
      h = await daemonHarness(backend)
      const [id] = await h.submit(1, 'fast')
      await runCycle(await h.env(), CYCLE)
      h.sim.setFaults({ failRate: 1 })
      const t = testContext({ db: h.db, config: h.config, clock: h.clock })
      expect(await run(cancelOpts({ args: [id], yes: true }), t.ctx)).toBe(0)
      expect(t.stderr()).toMatch(new RegExp(`^warning: could not cancel job ${id} on the GPU cluster \\(.+\\); cancelled it locally, and orphan cleanup will stop the cluster's run\\.\\n$`))
      // The client's retries (2 s, 4 s, 8 s and jitter, on the harness clock) are billed too: a cent at most.
      expect(t.stdout()).toMatch(new RegExp(`\\n${id}\\tcancelled\\tcancelled\\t0\\.0[01]\\tfailed\\n$`))
      expect((await jobState(h.db, id!)).status).toBe('cancelled')
    })

    it('refuses a finished job and an unknown one, changes nothing, and exits 1 while cancelling the others', async () => {
      db = await backend.open()
      const datasetId = await insertDataset(db)
      const done = await insertJob(db, { datasetId, status: 'completed', progress: 100, finalCost: 0.21, currentCost: 0.21, completedAt: at(20), updatedAt: at(20) })
      const queued = await insertJob(db, { datasetId })
      const unknown = '00000000-0000-4000-8000-0000000000ff'
      const t = testContext({ db, clock: new FakeClock(at(30)) })
      expect(await run(cancelOpts({ args: [done, queued, unknown], yes: true }), t.ctx)).toBe(1)
      expect(t.stdout()).toBe(
        [
          'id\tresult\tstatus\tfinal_cost\tcluster',
          `${done}\talready_finished\tcompleted\t0.21\tnot_submitted`,
          `${queued}\tcancelled\tcancelled\t0.00\tnot_submitted`,
          `${unknown}\tnot_found\t\t\tnot_submitted`,
          '',
        ].join('\n'),
      )
      expect(t.stderr()).toBe(`error: job ${done} is already completed: nothing to cancel.\nerror: no training job has id ${unknown}.\n`)
      const state = await jobState(db, done)
      expect(state).toMatchObject({ status: 'completed', final_cost: 0.21, completed_at: at(20), notes: [], costs: [] })
    })

    // Runs on one database only (the real server when there is one): it tests the command, not the driver.
    if (backend === PRIMARY) it('needs --yes without a terminal, and asks at one', async () => {
      db = await backend.open()
      const datasetId = await insertDataset(db)
      const id = await insertJob(db, { datasetId })
      const piped = testContext({ db, clock: new FakeClock(at(3)) })
      await expect(run(cancelOpts({ args: [id] }), piped.ctx)).rejects.toMatchObject({ exitCode: 2, message: 'Cancelling jobs needs --yes without a terminal.' })

      const no = scriptedTerminal([{ expect: 'Cancel this job?', keys: KEY.enter }])
      const declined = testContext({ db, tty: true, clock: new FakeClock(at(3)), prompter: no.prompter })
      expect(await run(cancelOpts({ args: [id] }), declined.ctx)).toBe(1)
      expect(declined.stderr()).toBe(`About to cancel this job:\n  ${id}  queued  support-chats  $0.00 so far\nNothing cancelled.\n`)
      expect((await jobState(db, id)).status).toBe('queued')

      const yes = scriptedTerminal([{ expect: 'Cancel this job?', keys: 'y' + KEY.enter }])
      const confirmed = testContext({ db, tty: true, clock: new FakeClock(at(3)), env: { NO_COLOR: '1' }, prompter: yes.prompter })
      expect(await run(cancelOpts({ args: [id] }), confirmed.ctx)).toBe(0)
      expect(confirmed.stdout()).toMatch(new RegExp(`│ ${id.slice(0, 8)} │ cancelled │ cancelled │      \\$0\\.00 │ not_submitted │`))
      expect((await jobState(db, id)).status).toBe('cancelled')
    })
  })
}

const postgres = backends.find((b) => b.name === 'postgres')!

/** Sessions of this database waiting for a lock. */
async function lockWaiters(db: Db): Promise<number> {
  return count(db, `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`)
}

function completion(id: string, cost: number): PollUpdate {
  return {
    id, status: 'completed', progress: 100, current_epoch: 1, current_step: 300, total_steps: 300, total_epochs: 1, current_stage: 'completed',
    current_metrics: null, current_cost: cost, cost_by_month: {}, cost_source: 'wall_clock', billed_gpu_seconds: null, error_message: null, error_type: null, counts_toward_limit: null, artifact_id: null,
    message: `Your training job finished successfully. Cost: $${cost.toFixed(2)}`,
  }
}

describe.skipIf(!pgUrl)('jobs cancel racing the daemon\'s completion on real Postgres: exactly one wins', () => {
  let h: DaemonHarness | undefined
  afterEach(async () => {
    await h?.close()
    h = undefined
  })

  it('the daemon commits first: the cancel reports the job completed, not overwritten, exit 1', async () => {
    h = await daemonHarness(postgres)
    const [id] = await h.submit(1, 'fast')
    await runCycle(await h.env(), CYCLE)
    h.clock.advance(20 * MIN)
    const daemonSide = await h.db.connectAgain!()
    let release!: () => void
    let locked!: () => void
    const holding = new Promise<void>((r) => (locked = r))
    const committed = daemonSide.transaction(async (tx) => {
      expect(await applyPollResults(tx, 'daemon-1', h!.clock.now(), [completion(id!, 0.37)], [], [])).toHaveLength(1)
      locked()
      await new Promise<void>((r) => (release = r))
    })
    await holding
    const t = testContext({ db: h.db, config: h.config, clock: h.clock })
    const cancelling = run(cancelOpts({ args: [id], yes: true }), t.ctx)
    await until(async () => (await lockWaiters(h!.db)) === 1, 'the cancel to wait for the row')
    release()
    await committed
    expect(await cancelling).toBe(1)
    expect(t.stderr()).toBe(`error: job ${id} became completed while it was being cancelled: left completed, not cancelled.\n`)
    expect(t.stdout()).toMatch(new RegExp(`\\n${id}\\tfinished_meanwhile\\tcompleted\\t0\\.37\\t`))
    const state = await jobState(h.db, id!)
    expect(state).toMatchObject({ status: 'completed', final_cost: 0.37 })
    expect(state.notes.map((n) => n.type)).toEqual(['job_completed', 'job_started'])
    expect(state.costs.map((c) => c.amount)).toEqual([0.37])
  })

  it('the cancel commits first: the daemon\'s guarded completion writes nothing', async () => {
    h = await daemonHarness(postgres)
    const [id] = await h.submit(1, 'fast')
    await runCycle(await h.env(), CYCLE)
    h.clock.advance(20 * MIN)
    const cancelSide = await h.db.connectAgain!()
    let release!: () => void
    let locked!: () => void
    const holding = new Promise<void>((r) => (locked = r))
    const committed = cancelSide.transaction(async (tx) => {
      expect((await lockJobForCancel(tx, id!))!.status).toBe('running')
      expect(await cancelActiveJob(tx, { id: id!, finalCost: 0.37, costByMonth: {}, costSource: 'wall_clock', billedGpuSeconds: null, reason: null, now: h!.clock.now() })).not.toBeNull()
      locked()
      await new Promise<void>((r) => (release = r))
    })
    await holding
    const completing = applyPollResults(h.db, 'daemon-1', h.clock.now(), [completion(id!, 0.37)], [], [])
    await until(async () => (await lockWaiters(cancelSide)) === 1, 'the daemon to wait for the row')
    release()
    await committed
    expect(await completing).toEqual([])
    const state = await jobState(h.db, id!)
    expect(state).toMatchObject({ status: 'cancelled', final_cost: 0.37, artifacts: 0 })
    expect(state.notes.map((n) => n.type)).toEqual(['job_cancelled', 'job_started'])
    expect(state.costs.map((c) => c.amount)).toEqual([0.37])
  })

  it('many cancels against a cycle that completes the same jobs: each job ends one way, with its facts written once', async () => {
    h = await daemonHarness(postgres, { simulator: { latencyMs: 20 } })
    const ids = await h.submit(6, 'fast')
    const env = await h.env()
    await runCycle(env, CYCLE)
    // Long enough for every run to have finished on the cluster.
    h.clock.advance(100 * MIN)
    const other = await h.db.connectAgain!()
    const contexts = ids.map(() => testContext({ db: other, config: h!.config, clock: h!.clock }))
    // The cancels start spread over the cycle's length, so that they meet it at every stage.
    const cancelAfter = (ms: number, id: string, i: number) =>
      new Promise((r) => setTimeout(r, ms)).then(() => run(cancelOpts({ args: [id], yes: true, json: true }), contexts[i]!.ctx))
    const [report, ...codes] = await Promise.all([runCycle(env, CYCLE), ...ids.map((id, i) => cancelAfter(i * 120, id, i))])
    let cancelled = 0
    for (const id of ids) {
      const state = await jobState(h.db, id)
      const terminal = state.notes.map((n) => n.type).filter((type) => type !== 'job_started')
      expect(terminal).toHaveLength(1)
      expect(state.costs.length).toBeLessThanOrEqual(1)
      if (state.status === 'cancelled') {
        cancelled += 1
        expect(terminal).toEqual(['job_cancelled'])
        expect(state.artifacts).toBe(0)
      } else {
        expect(state).toMatchObject({ status: 'completed', artifacts: 1 })
        expect(terminal).toEqual(['job_completed'])
      }
    }
    expect(report.completed + cancelled).toBe(ids.length)
    // Each cancel says how its job ended, and exits by it.
    for (const [i, id] of ids.entries()) {
      const [result] = (JSON.parse(contexts[i]!.stdout()) as { results: { outcome: string; status: string }[] }).results
      const status = (await jobState(h.db, id)).status
      if (status === 'cancelled') expect(result).toMatchObject({ outcome: 'cancelled' })
      else expect(result).toMatchObject({ outcome: expect.stringMatching(/^(finished_meanwhile|already_finished)$/), status: 'completed' })
      expect(codes[i]).toBe(status === 'cancelled' ? 0 : 1)
      await contexts[i]!.ctx.close()
    }
  })
})
