import { afterEach, describe, expect, it } from 'vitest'
import { testContext } from '../helpers/context.js'
import { daemonHarness, drainJobs, type DaemonHarness } from '../helpers/daemon.js'
import { optionIssueToError } from '../../src/cli.js'
import { Options, run } from '../../commands/jobs-logs.js'
import { run as show } from '../../commands/jobs-show.js'
import { PRIMARY, USER } from './fixtures.js'

const logsOpts = (input: Record<string, unknown>) => {
  const parsed = Options.safeParse({ json: false, follow: false, ...input })
  if (!parsed.success) throw optionIssueToError(parsed.error.issues)
  return parsed.data
}
const lines = (text: string) => text.split('\n').filter(Boolean)

describe('jobs logs: flags', () => {
  it('refuses a malformed id, a bad --tail and a bad --interval as usage errors', () => {
    expect(() => logsOpts({ args: 'job-1' })).toThrow('Invalid argument: expected a job id (a UUID, or its first 4 or more characters), got "job-1".')
    expect(() => logsOpts({ args: USER, tail: '0' })).toThrow('Invalid --tail: must be an integer from 1 to 100000 (got "0").')
    expect(() => logsOpts({ args: USER, interval: '5' })).toThrow('Invalid --interval: expected a duration of at least 100ms such as 2s, 10m or 7d (got "5").')
    expect(logsOpts({ args: USER })).toMatchObject({ follow: false, interval: 2000 })
  })
})

describe.skipIf(!PRIMARY.available)(`jobs logs and the log at the end of jobs show (${PRIMARY.name})`, () => {
  let h: DaemonHarness | undefined
  afterEach(async () => {
    await h?.close()
    h = undefined
  })

  it('prints the whole log piped as TIME<tab>TEXT, the last lines with --tail, JSON lines with --json', async () => {
    h = await daemonHarness(PRIMARY)
    const [id] = await h.submit(1, 'fast')
    await drainJobs(h, await h.env(), 60_000)
    const piped = testContext({ db: h.db, config: h.config, clock: h.clock })
    expect(await run(logsOpts({ args: id }), piped.ctx)).toBe(0)
    const all = lines(piped.stdout()).map((l) => l.split('\t'))
    expect(all.every((l) => l.length === 2 && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(l[0]!))).toBe(true)
    expect(all[0]![1]).toBe('job accepted: 1x A10G requested, waiting for GPUs')
    expect(all.map((l) => l[1])).toContain('dataset downloaded: 2,000 training pairs, 200,000 tokens')
    expect(all.at(-1)![1]).toBe('run complete: adapter and 3 validation images uploaded; GPUs released')
    expect(piped.stderr()).toBe('')

    const tail = testContext({ db: h.db, config: h.config, clock: h.clock })
    expect(await run(logsOpts({ args: id, tail: '2' }), tail.ctx)).toBe(0)
    expect(lines(tail.stdout())).toEqual(lines(piped.stdout()).slice(-2))

    const json = testContext({ db: h.db, config: h.config, clock: h.clock })
    expect(await run(logsOpts({ args: id, json: true, follow: true }), json.ctx)).toBe(0)
    expect(lines(json.stdout()).map((l) => JSON.parse(l) as unknown)).toEqual(all.map(([ts, text]) => ({ ts, text })))
    // --follow of a job that has ended prints its log and exits by its end, as jobs watch does.
    expect(json.stderr()).toMatch(new RegExp(`^Job ${id} completed; final cost \\$\\d+\\.\\d\\d\\.\\n$`))
  })

  it('ends the show of a failed job with the last 20 lines of its log at most, the injected cause last', async () => {
    h = await daemonHarness(PRIMARY, { simulator: { jobFailRate: 1 } })
    const [id] = await h.submit(1, 'fast')
    await drainJobs(h, await h.env(), 60_000)
    const t = testContext({ db: h.db, config: h.config, clock: h.clock })
    await show({ args: id!, json: false }, t.ctx)
    const out = t.stdout()
    const [, log] = out.split('\ntime\ttext\n')
    const logLines = lines(log!)
    // The same lines as `jobs logs --tail 20`: all of them here, for a run that died early.
    const tail = testContext({ db: h.db, config: h.config, clock: h.clock })
    expect(await run(logsOpts({ args: id, tail: '20' }), tail.ctx)).toBe(0)
    expect(logLines).toEqual(lines(tail.stdout()))
    expect(logLines.length).toBeGreaterThan(10)
    expect(logLines.length).toBeLessThanOrEqual(20)
    expect(logLines.at(-2)).toMatch(/\terror at step \d+\/250: injected failure: .+$/)
    expect(logLines.at(-1)).toMatch(/\tthe run failed; GPUs released$/)
    expect(out).toMatch(/\nerror_message\tinjected failure: /)
  })

  it('says in one sentence, exit 1, that a cluster without the logs endpoint has no log to give', async () => {
    h = await daemonHarness(PRIMARY, { simulator: { omitLogs: true } })
    const [id] = await h.submit(1, 'fast')
    await drainJobs(h, await h.env(), 60_000)
    const [{ external_job_id: external }] = (await h.db.query<{ external_job_id: string }>('SELECT external_job_id FROM training_jobs WHERE id = $1', [id])) as [{ external_job_id: string }]
    const t = testContext({ db: h.db, config: h.config, clock: h.clock })
    await expect(run(logsOpts({ args: id }), t.ctx)).rejects.toMatchObject({
      exitCode: 1,
      code: 'logs_unsupported',
      message: `GPU cluster "sim" has no training log to give: GET /training/logs/${external} answered 404, as a cluster without the contract's optional logs endpoint does.`,
      hint: `\`lora jobs show ${id}\` has the job's status, metrics and error.`,
    })
    expect(t.stdout()).toBe('')
  })

  it('says a job that has not reached a cluster has no log yet, exit 0', async () => {
    h = await daemonHarness(PRIMARY)
    const [id] = await h.submit(1, 'fast')
    const t = testContext({ db: h.db, config: h.config, clock: h.clock })
    expect(await run(logsOpts({ args: id }), t.ctx)).toBe(0)
    expect(t.stdout()).toBe('')
    expect(t.stderr()).toBe(`Job ${id} has no training log: it has not reached a GPU cluster (it is queued).\n`)
  })
})

describe.skipIf(!PRIMARY.available)(`simulated time is labelled (${PRIMARY.name})`, () => {
  it('on the live view, jobs show and the estimate, at the speed of the profile\'s simulator; not for a real cluster', async () => {
    const { insertDataset, insertJob, at } = await import('./fixtures.js')
    const { readJob } = await import('../../src/db/queries/job-views.js')
    const { renderFrame } = await import('../../src/jobs/watch-view.js')
    const { createStyle } = await import('../../src/io/style.js')
    const { simulatedSpeed, simulatedHoursNote } = await import('../../src/cluster/simulated.js')
    const { testConfig } = await import('../helpers/context.js')
    const db = await PRIMARY.open()
    try {
      const id = await insertJob(db, {
        datasetId: await insertDataset(db), status: 'running', stage: 'training', progress: 45, epoch: 1, step: 135,
        externalId: 'sim-abc', cluster: 'local', startedAt: at(1), updatedAt: at(11),
      })
      const job = (await readJob(db, id))!
      const simulated = testConfig({ clusters: [{ name: 'local', url: 'simulator', connectTimeoutMs: 1000, requestTimeoutMs: 1000 }], simulator: { speed: 60 } })
      const real = testConfig({ clusters: [{ name: 'local', url: 'https://gpu.example.com', connectTimeoutMs: 1000, requestTimeoutMs: 1000 }] })
      expect(await simulatedSpeed(simulated, 'local')).toBe(60)
      expect(await simulatedSpeed(real, 'local')).toBeNull()
      const frame = (speed: number | null) => renderFrame({ job, points: [] }, { now: at(12), columns: 120, style: createStyle(false), prices: {}, simulatedSpeed: speed }).join('\n')
      expect(frame(60)).toContain('epoch 1/1 · step 135/300 · ETA 5m55s · elapsed 11m (simulated at 60x)\n')
      expect(frame(null)).toContain('epoch 1/1 · step 135/300 · ETA 5m55s · elapsed 11m\n')
      const t = testContext({ db, config: simulated, tty: true, clock: new (await import('../../src/clock.js')).FakeClock(at(12)) })
      await show({ args: id, json: false }, t.ctx)
      expect(t.stdout()).toContain('· ETA 5m55s (simulated at 60x)\n')
      expect(t.stdout()).toContain('est. $0.19 over 0.174 h (simulated at 60x)\n')
      expect(simulatedHoursNote(0.169, 6)).toBe(' (simulated at 6x: about 1m41s)')
      expect(simulatedHoursNote(0.169, null)).toBe('')
    } finally {
      await db.close()
    }
  })
})
