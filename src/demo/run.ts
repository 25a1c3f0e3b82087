import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises'
import { createWriteStream } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { Context } from '../context.js'
import { createContext } from '../context.js'
import { IO, type OutStream } from '../io/streams.js'
import { ExitCode, LoraError } from '../errors.js'
import { malformedDataset, sampleDataset } from './data.js'

export const DEMO_USER = '00000000-0000-4000-8000-00000000de30'

/** Everything from the caller's environment that would point the demo elsewhere is left out. */
const PROFILE_VARIABLES = /^(DATABASE_URL|LORA_.*|SUPABASE_.*|GPU_CLUSTER_.*|XDG_CONFIG_HOME)$/

interface Step {
  title: string
  argv: string[]
  expect: number
}

/**
 * `lora demo`: the whole platform on the embedded stack, in a fresh folder. Every
 * screen is a real lora command run in this process (the same `main` the binary runs)
 * against a real embedded database, folder storage and the simulator, while a real
 * daemon processes the jobs in the background.
 */
export async function runDemo(ctx: Context, options: { speed: number; keep: boolean; intervalMs: number }): Promise<ExitCode> {
  const dir = options.keep ? resolve(ctx.cwd, 'lora-demo') : await mkdtemp(join(tmpdir(), 'lora-demo-'))
  await mkdir(dir, { recursive: true })
  const env: Record<string, string | undefined> = Object.fromEntries(Object.entries(ctx.env).filter(([k]) => !PROFILE_VARIABLES.test(k)))
  Object.assign(env, { HOME: dir, LORA_USER_ID: DEMO_USER, LORA_ACTOR: 'demo', LORA_EMBEDDED_WAIT: '60s' })
  const io = ctx.io
  const say = (text: string) => io.err(io.errStyle.bold(text))

  // The stack's own simulator, so that every screen knows its time is simulated, and how fast.
  Object.assign(env, { GPU_CLUSTER_API_URL: 'simulator', LORA_SIMULATOR_SPEED: String(options.speed) })
  // Without --keep the folder, and the daemon's log in it, are removed at the end: no screen points to them.
  const keptFor = options.keep ? `Its folder is kept for a look: ${dir} (the daemon's log: ${join(dir, 'daemon.log')})` : 'Run it with --keep to keep its folder and the daemon\'s log for a look.'
  await writeFile(join(dir, 'support-chats.jsonl'), sampleDataset())
  await writeFile(join(dir, 'broken.jsonl'), malformedDataset())

  const { main } = await import('../cli.js')
  let captured = ''
  const tee: OutStream = {
    write: (chunk: string) => {
      captured += chunk
      return io.stdout.write(chunk)
    },
    isTTY: io.stdoutIsTTY,
    ...(io.stdout.columns ? { columns: io.stdout.columns } : {}),
  }
  const lora = async (step: Step): Promise<string> => {
    say(`\n$ lora ${step.argv.join(' ')}    # ${step.title}`)
    captured = ''
    const code = await main(step.argv, { env, stdout: tee, stderr: io.stderr, stdin: { isTTY: false }, cwd: dir, signal: ctx.signal })
    if (ctx.signal.aborted) throw new LoraError('Demo interrupted.', { exitCode: ExitCode.interrupted })
    if (code !== step.expect) {
      throw new LoraError(`The demo step "lora ${step.argv.join(' ')}" exited ${code}, not ${step.expect}.`, { hint: keptFor })
    }
    return captured
  }

  say(`lora demo: the platform on the embedded stack in ${dir}${options.keep ? '' : ' (removed at the end; --keep keeps it)'}`)

  // The stack's local service runs in this process: it creates and migrates the
  // database, serves it and the storage to the commands, and processes the jobs.
  const daemonAbort = new AbortController()
  const logFile = createWriteStream(join(dir, 'daemon.log'))
  const stackIO = new IO({ stdout: logFile as unknown as OutStream, stderr: logFile as unknown as OutStream, stdin: { isTTY: false }, env: {} })
  const stackCtx = createContext({ io: stackIO, env, cwd: dir, clock: ctx.clock, signal: daemonAbort.signal })
  const { startLocalStack } = await import('../local.js')
  const started = await startLocalStack(stackCtx, { daemon: true, idleMs: null, daemonIntervalMs: options.intervalMs })
  if ('running' in started) throw new LoraError(`The demo folder ${dir} is in use by process ${started.running.pid}.`)
  const stack = started
  const sim = stack.simulator
  if (!sim) {
    await stack.stop()
    throw new LoraError('The demo stack started without its GPU cluster simulator.')
  }
  say(`the GPU cluster simulator runs at ${options.speed}x (simulated time per real time) on ${sim.url}`)
  say(options.keep ? `a daemon processes jobs in the background (its log: ${join(dir, 'daemon.log')})` : 'a daemon processes jobs in the background')
  await lora({ title: 'the schema: the stack migrated it as it started', argv: ['db', 'migrate'], expect: 0 })

  const db = stack.db
  const waitFor = async (what: string, sql: string, params: unknown[], timeoutMs = 180_000) => {
    const deadline = ctx.clock.now().getTime() + timeoutMs
    while (ctx.clock.now().getTime() < deadline) {
      if ((await db.query(sql, params)).length > 0) return
      await ctx.clock.sleep(250, ctx.signal)
    }
    throw new LoraError(`The demo waited too long for ${what}.`, { hint: keptFor })
  }

  try {
    await lora({ title: 'a dataset with mistakes is refused, line by line, and nothing is uploaded', argv: ['datasets', 'upload', 'broken.jsonl', '--name', 'broken'], expect: 1 })
    await lora({ title: 'a valid dataset: validated, then uploaded', argv: ['datasets', 'upload', 'support-chats.jsonl', '--name', 'support-chats'], expect: 0 })

    const submit = async (preset: string, title: string) => {
      await lora({ title, argv: ['jobs', 'submit', '--dataset', 'support-chats', '--preset', preset, '--yes'], expect: 0 })
      const [job] = await db.query<{ id: string }>('SELECT id FROM training_jobs ORDER BY created_at DESC LIMIT 1')
      return job!.id
    }
    const watched = await submit('fast', 'a training job (fast preset)')
    const second = await submit('balanced', 'another one (balanced preset)')
    const toCancel = await submit('quality', 'and a third we will cancel')
    const running = (id: string) => waitFor(`job ${id} to start`, `SELECT 1 FROM training_jobs WHERE id = $1 AND status <> 'queued' AND status <> 'initializing'`, [id])
    await running(watched)
    await running(second)
    await running(toCancel)
    // At once, while the run is still preparing: a simulated run is short.
    await lora({ title: 'cancel a job while it runs: on the cluster, then in the database', argv: ['jobs', 'cancel', toCancel, '--yes', '--reason', 'demo'], expect: 0 })
    // One job fails on the cluster: the simulator is told to fail the next job it gets.
    say('\n# injected failure: the simulator fails the next job it is given')
    sim.setFaults({ jobFailRate: 1 })
    const toFail = await submit('fast', 'a fourth, whose failure is injected')
    await running(toFail)
    sim.setFaults({ jobFailRate: 0 })

    await lora({ title: 'follow a job live until it ends (exit 0: completed)', argv: ['jobs', 'watch', watched, '--interval', `${options.intervalMs}ms`], expect: 0 })
    await waitFor('the jobs to end', `SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM training_jobs WHERE status IN ('queued', 'initializing', 'running'))`, [])
    await lora({ title: 'every job and how it ended', argv: ['jobs', 'list'], expect: 0 })
    await lora({ title: 'the failed one, as the monitor page shows it, with the end of its training log', argv: ['jobs', 'show', toFail], expect: 0 })
    await lora({ title: 'the platform in numbers', argv: ['metrics', 'jobs', '--period', '24h'], expect: 0 })
    await lora({ title: 'cost so far', argv: ['metrics', 'cost'], expect: 0 })

    // An outage: the cluster answers 503 to everything, asking to be retried in a
    // second (Retry-After: 1, which the client obeys instead of its 2 s, 4 s, 8 s). The
    // daemon retries each call, gives the jobs back to the queue, and the shared
    // breaker opens: seconds of the tour rather than half a minute.
    say('\n# injected failure: the simulator answers every call with 503 (Retry-After: 1) from now on')
    sim.setFaults({ failRate: 1, retryAfter: 1 })
    for (let i = 0; i < 3; i++) await lora({ title: 'more work arrives during the outage', argv: ['jobs', 'submit', '--dataset', 'support-chats', '--preset', 'fast', '--yes'], expect: 0 })
    await waitFor('the circuit breaker to open', `SELECT 1 FROM lora_ops.circuit_breakers WHERE state = 'open'`, [], 120_000)
    await lora({ title: 'on-call looks at the cluster: unreachable, breaker open', argv: ['cluster', 'status'], expect: 0 })
    await lora({ title: 'the queued jobs say why they wait', argv: ['jobs', 'list', '--status', 'queued'], expect: 0 })
    await lora({ title: 'what a CI gate sees: exit 1, the deploy waits', argv: ['health', '--fail-on', 'critical'], expect: 1 })
    await lora({ title: 'evaluate the alert rules now (the daemon does it every cycle)', argv: ['alerts', 'evaluate'], expect: 0 })
    await lora({ title: 'the alerts that fired', argv: ['alerts', 'list'], expect: 0 })
    sim.setFaults({ failRate: 0 })
    say('\n# the injected failure ends: the cluster is back')
    await lora({ title: 'on-call closes the breaker (recorded in the audit log)', argv: ['cluster', 'breaker', 'reset', 'primary'], expect: 0 })
    await waitFor('the waiting jobs to be submitted', `SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM training_jobs WHERE status = 'queued')`, [], 60_000)
    await lora({ title: 'the queue drains again', argv: ['jobs', 'list', '--status', 'initializing,running,completed'], expect: 0 })
  } finally {
    daemonAbort.abort()
    await stack.stop()
    logFile.end()
    if (!options.keep) await rm(dir, { recursive: true, force: true })
  }
  say(options.keep ? `\ndone: everything is kept in ${dir} (cd there and run any lora command)` : '\ndone: the demo folder was removed (run with --keep to keep it)')
  return ExitCode.ok
}
