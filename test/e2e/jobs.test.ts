import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { BIN, runLora, tempDir } from '../helpers/cli.js'
import { openEmbedded } from '../../src/db/embedded.js'
import { systemClock } from '../../src/clock.js'
import { insertJob } from '../jobs/fixtures.js'
import { startLora, stopLoraProcesses } from '../helpers/lora-process.js'
import { stackWithDataset } from '../helpers/stack.js'

const USER = '00000000-0000-4000-8000-00000000a11c'
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** Two finished jobs whose ids share their first 8 characters: a prefix of 4 is ambiguous. */
const TWIN_A = 'abcd0000-1111-4000-8000-000000000001'
const TWIN_B = 'abcd0000-2222-4000-8000-000000000002'

/** The embedded stack of a fresh directory, migrated, with one ready dataset in its folder storage and the twins. */
async function workspace(): Promise<{ path: string; remove(): void }> {
  const dir = tempDir('lora-e2e-jobs-')
  await stackWithDataset(dir.path, USER)
  const db = await openEmbedded({ dir: join(dir.path, '.lora', 'db'), serve: false, clock: systemClock })
  try {
    const [dataset] = await db.query<{ id: string }>('SELECT id FROM datasets')
    for (const id of [TWIN_A, TWIN_B]) await insertJob(db, { id, datasetId: dataset!.id, userId: USER, status: 'completed', progress: 100, finalCost: 0.1 })
  } finally {
    await db.close()
  }
  return dir
}

/** Runs lora on an 80-column terminal (a pseudo-terminal from script(1)) and returns what it drew. */
function onTerminal(args: string, cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', `stty cols 80 rows 50; "${BIN}" ${args}`, '/dev/null'], {
      cwd,
      env: { PATH: process.env.PATH ?? '', HOME: cwd, NO_COLOR: '1', COLUMNS: '80', TERM: 'dumb', LORA_LOCAL_IDLE: '30s' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.on('error', reject)
    child.on('close', () => resolve(out))
  })
}

describe('jobs commands (the built binary, embedded profile, simulator)', () => {
  let dir: { path: string; remove(): void }

  beforeAll(async () => {
    dir = await workspace()
  }, 60_000)
  afterAll(async () => {
    await stopLoraProcesses()
    dir?.remove()
  })

  it('submits, cancels on the cluster and locally, and watch exits 1 for the cancelled job', async () => {
    const cwd = dir.path
    const submitted = await runLora(['jobs', 'submit', '--dataset', 'support-chats', '--user', USER, '--preset', 'fast', '--yes'], { cwd })
    expect(submitted.stderr).toBe('')
    expect(submitted.code).toBe(0)
    expect(submitted.stdout).toMatch(/^[0-9a-f-]{36}\n$/)
    const id = submitted.stdout.trim()
    expect(id).toMatch(UUID)

    // One daemon cycle hands the job to the simulator: the cancel then stops it there too (cluster: cancelled).
    const cycle = await runLora(['daemon', '--once'], { cwd })
    expect(cycle.code).toBe(0)
    const cancelled = await runLora(['jobs', 'cancel', id, '--yes', '--reason', 'e2e'], { cwd })
    expect(cancelled.stderr).toBe('')
    expect(cancelled.code).toBe(0)
    expect(cancelled.stdout).toMatch(new RegExp(`^id\\tresult\\tstatus\\tfinal_cost\\tcluster\\n${id}\\tcancelled\\tcancelled\\t\\d+\\.\\d\\d\\tcancelled\\n$`))

    const watched = await runLora(['jobs', 'watch', id], { cwd })
    expect(watched.code).toBe(1)
    const [header, line] = watched.stdout.trim().split('\n')
    expect(header).toBe('updated_at\tstatus\tstage\tprogress\tepoch\tstep\ttraining_loss\tvalidation_loss\tthroughput\tgpu_utilization\tcost\teta_seconds\tnote')
    expect(line!.split('\t').slice(1, 3)).toEqual(['cancelled', 'cancelled'])
    expect(watched.stderr).toMatch(new RegExp(`^Job ${id} was cancelled; final cost \\$\\d+\\.\\d\\d\\.\\n$`))
  })

  it('answers bad input with one sentence and exit 2, and a refusal with exit 1', async () => {
    const cwd = dir.path
    const cases: [string[], number, string][] = [
      [['jobs', 'show', 'nope'], 2, 'error: Invalid argument: expected a job id (a UUID, or its first 4 or more characters), got "nope".\n'],
      [['jobs', 'submit', '--dataset', 'support-chats'], 2, 'error: Missing --user: pass --user UUID (the user the job is for), or set LORA_USER_ID.\n'],
      [['jobs', 'submit', '--user', USER, '--dataset', 'support-chats', '--gpus', '0'], 2, 'error: Invalid --gpus: must be an integer from 1 to 8 (got "0").\n'],
      [['jobs', 'submit', '--user', USER, '--dataset', 'support-chats', '--gpu-type', 'TPU'], 2, 'error: Invalid --gpu-type: "TPU" is not a GPU type of profile default (one of A100-80GB, A100-40GB, H100, A10G, L4).\nhint: Or add its price under gpuPrices in .lorarc.\n'],
      [['jobs', 'submit', '--user', USER, '--dataset', 'support-chats'], 2, 'error: Submitting a job needs --yes without a terminal.\nhint: Or --dry-run to see what it would do.\n'],
      [['jobs', 'show', 'abc'], 2, 'error: Invalid argument: a job id prefix needs at least 4 characters (got "abc").\n'],
      [['jobs', 'show', 'abcd'], 2, `error: The job id prefix "abcd" matches 2 jobs:\n  ${TWIN_A}  completed  created 2026-03-10T12:00:00.000Z\n  ${TWIN_B}  completed  created 2026-03-10T12:00:00.000Z\nhint: Pass more characters of the id.\n`],
      [['jobs', 'submit', '--user', USER, '--dataset', 'missing', '--yes'], 1, `error: User ${USER} has no dataset named "missing".\nhint: List them with \`lora datasets list\`.\n`],
      [['jobs', 'cancel', '00000000-0000-4000-8000-0000000000ff'], 2, 'error: Cancelling jobs needs --yes without a terminal.\nhint: Or --dry-run to see what it would do.\n'],
      [['jobs', 'list', '--status', 'done'], 2, 'error: Invalid --status: "done" is not a job status (queued, initializing, running, completed, failed, cancelled, or active).\n'],
    ]
    const before = await runLora(['jobs', 'list', '--json'], { cwd })
    const results = await Promise.all(cases.map(([args]) => runLora(args, { cwd })))
    for (const [i, [args, code, stderr]] of cases.entries()) {
      const r = results[i]!
      expect({ args, code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({ args, code, stdout: '', stderr })
    }
    // The submit refused for want of --yes wrote no row.
    expect((await runLora(['jobs', 'list', '--json'], { cwd })).stdout).toBe(before.stdout)
    // A unique prefix is as good as the id.
    const shown = await runLora(['jobs', 'show', TWIN_A.slice(0, 10), '--json'], { cwd })
    expect(shown.code, shown.stderr).toBe(0)
    expect((JSON.parse(shown.stdout) as { job: { id: string } }).job.id).toBe(TWIN_A)
  })

  it('fits every table to an 80-column terminal (--wide shows them whole) and names the closest command for a typo', async () => {
    const cwd = dir.path
    for (const command of ['jobs list', 'datasets list', 'health', 'alerts list', 'cluster status']) {
      const r = await onTerminal(`${command}`, cwd)
      const lines = r.split(/\r?\n/).filter((l) => l.trim())
      expect(lines.length, `${command}:\n${r}`).toBeGreaterThan(0)
      expect(Math.max(...lines.map((l) => [...l].length)), `${command}:\n${r}`).toBeLessThanOrEqual(80)
    }
    const wide = await onTerminal('--wide datasets list', cwd)
    expect(Math.max(...wide.split(/\r?\n/).map((l) => [...l].length))).toBeGreaterThan(80)
    const typo = await runLora(['jobs', 'lst'], { cwd })
    expect(typo).toEqual({
      code: 2,
      stdout: '',
      stderr: "error: unknown command 'lst' for 'lora jobs'. Did you mean 'list'?\nhint: the commands of lora jobs: submit, list, show, watch, logs, cancel (see `lora jobs --help`).\n",
    })
  })

  it('follows a job to completion while `lora daemon` runs, through its shared embedded database, exit 0', async () => {
    const cwd = dir.path
    // The stack's local service (started by the first command) runs the simulator: a
    // new one, started by the next command, runs it faster.
    expect((await runLora(['local', 'stop'], { cwd })).code).toBe(0)
    // A ten-minute run at 60x: ten seconds, long enough to watch it move.
    const env = { LORA_SIMULATOR_SPEED: '60' }
    const submitted = await runLora(['jobs', 'submit', '--dataset', 'support-chats', '--user', USER, '--preset', 'fast', '--yes'], { cwd, env })
    expect(submitted.code, submitted.stderr).toBe(0)
    const id = submitted.stdout.trim()
    const daemon = startLora(['daemon', '--interval', '500ms'], { cwd, env })
    try {
      // Its first cycle done, or the test fails at once with what it said if it dies first.
      await daemon.waitFor('stderr', /cycle done/, 60_000)
      // The daemon serves the embedded database on its socket; the watch polls it (a socket cannot LISTEN).
      const watched = await runLora(['jobs', 'watch', id, '--json', '--interval', '300ms'], { cwd, env, timeoutMs: 60_000 })
      expect(watched.code, watched.stderr).toBe(0)
      const events = watched.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
      expect(events[0]).toMatchObject({ id })
      expect(events[events.length - 1]).toMatchObject({ id, status: 'completed', progress: 100 })
      expect(new Set(events.map((e) => e.status))).toContain('running')
      expect(watched.stderr).toMatch(new RegExp(`Job ${id} completed; final cost \\$\\d+\\.\\d\\d\\.\\n$`))
      // SIGTERM finishes the cycle in flight and exits cleanly.
      expect(await daemon.stop('SIGTERM'), daemon.output().stderr.slice(-2000)).toBe(0)
    } finally {
      await daemon.stop()
    }
  }, 90_000)

  it('jobs logs --follow prints the training log as the run writes it, to its end, and exits 0 when it completes', async () => {
    const cwd = dir.path
    // A local service started by the next command, its simulator fast: the run takes seconds.
    await runLora(['local', 'stop'], { cwd })
    const env = { LORA_SIMULATOR_SPEED: '120' }
    const submitted = await runLora(['jobs', 'submit', '--dataset', 'support-chats', '--user', USER, '--preset', 'fast', '--yes'], { cwd, env })
    expect(submitted.code, submitted.stderr).toBe(0)
    const id = submitted.stdout.trim()
    const followed = await runLora(['jobs', 'logs', id, '--follow', '--interval', '200ms'], { cwd, env, timeoutMs: 60_000 })
    expect(followed.code, followed.stderr).toBe(0)
    expect(followed.stderr).toMatch(new RegExp(`^Job ${id} completed; final cost \\$\\d+\\.\\d\\d\\.\\n$`))
    const lines = followed.stdout.trim().split('\n').map((l) => l.split('\t'))
    expect(lines.every((l) => l.length === 2 && !Number.isNaN(Date.parse(l[0]!)))).toBe(true)
    const texts = lines.map((l) => l[1])
    expect(texts[0]).toBe('job accepted: 1x A10G requested, waiting for GPUs')
    expect(texts).toContain('dataset downloaded: 1,200 training pairs, 200,000 tokens')
    expect(texts.filter((t) => /^epoch 1\/1 step [\d,]+\/150: loss \d\.\d{4}, /.test(t!)).length).toBeGreaterThanOrEqual(10)
    expect(texts.at(-1)).toBe('run complete: adapter and 3 validation images uploaded; GPUs released')
    // Nothing twice, nothing left out: the log read afterwards is the same, and --tail cuts its end.
    const again = await runLora(['jobs', 'logs', id, '--tail', '3'], { cwd, env })
    expect(again.code, again.stderr).toBe(0)
    expect(again.stdout).toBe(followed.stdout.trim().split('\n').slice(-3).join('\n') + '\n')
  }, 90_000)
})
