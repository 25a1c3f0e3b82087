import { afterEach, describe, expect, it } from 'vitest'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runLora, tempDir } from '../helpers/cli.js'
import { startLora, stopLoraProcesses } from '../helpers/lora-process.js'
import { openEmbedded } from '../../src/db/embedded.js'
import { migrate } from '../../src/db/migrate.js'
import { copyMigratedEmbedded } from '../helpers/db.js'
import { CircuitBreaker } from '../../src/cluster/breaker.js'
import { systemClock } from '../../src/clock.js'

const LATENCY_MS = 300

describe('cluster commands and the local stack (the built binary)', () => {
  const dirs: { remove(): void }[] = []
  afterEach(async () => {
    await stopLoraProcesses()
    for (const d of dirs.splice(0)) d.remove()
  })
  const workspace = () => {
    const d = tempDir('lora-e2e-cluster-')
    dirs.push(d)
    return d.path
  }

  it('shares one breaker between processes through the database, reports the latency it measured; on-call resets it', async () => {
    const cwd = workspace()
    // It starts while the database is copied and opened.
    const sim = startLora(['cluster', 'simulate', '--latency', String(LATENCY_MS), '--state', join(cwd, 'sim.json')], { cwd })
    const simulatorUrl = sim.waitFor('stdout', /^http:\/\/127\.0\.0\.1:\d+\n/).then((out) => out.trim())
    simulatorUrl.catch(() => undefined)
    copyMigratedEmbedded(join(cwd, '.lora', 'db'))
    const held = await openEmbedded({ dir: join(cwd, '.lora', 'db'), serve: true, clock: systemClock })
    try {
      await migrate(held)
      writeFileSync(join(cwd, '.lorarc'), `profiles:\n  default:\n    clusters:\n      simulator:\n        url: ${await simulatorUrl}\n`)
      const breaker = new CircuitBreaker(held, 'simulator', { failureThreshold: 3, windowMs: 600_000, cooldownMs: 1_800_000 }, systemClock, 'test')
      for (let i = 0; i < 3; i++) await breaker.recordFailure('503 from the cluster')

      const status = await runLora(['cluster', 'status', '--json'], { cwd })
      expect(status.stderr).toBe('')
      expect(status.code).toBe(0)
      const [cluster] = JSON.parse(status.stdout).clusters
      expect(cluster).toMatchObject({
        name: 'simulator',
        url: await simulatorUrl,
        reachable: true,
        breaker: { state: 'open', recent_failures: 3, last_error: '503 from the cluster' },
      })
      expect(Number.isInteger(cluster.latency_ms)).toBe(true)
      // Rounded from real time around a 300 ms timer, which may fire a millisecond early.
      expect(cluster.latency_ms).toBeGreaterThanOrEqual(LATENCY_MS - 2)

      const reset = await runLora(['cluster', 'breaker', 'reset', 'simulator'], { cwd, env: { LORA_ACTOR: 'oncall@test' } })
      expect(reset).toMatchObject({ code: 0, stdout: 'breaker of simulator reset: open -> closed\n' })
      expect((await breaker.read())!.state).toBe('closed')
      const audit = await held.query('SELECT actor, action, target, count FROM lora_ops.audit_log')
      expect(audit).toEqual([{ actor: 'oncall@test', action: 'cluster.breaker.reset', target: 'simulator', count: 1 }])

      const unknown = await runLora(['cluster', 'breaker', 'reset', 'nope'], { cwd })
      expect(unknown.code).toBe(2)
      expect(unknown.stderr).toBe('error: No GPU cluster is named "nope" (clusters: simulator).\n')
    } finally {
      await held.close()
    }
  }, 90_000)

  it('refuses simulator options out of range, exit 2, one sentence', async () => {
    const cwd = workspace()
    const r = await runLora(['cluster', 'simulate', '--fail-rate', '2'], { cwd })
    expect(r).toEqual({ code: 2, stdout: '', stderr: 'error: Invalid --fail-rate: must be a number from 0 to 1 (got "2").\n' })
    const host = await runLora(['cluster', 'simulate', '--host', '0.0.0.0'], { cwd })
    expect(host.code).toBe(2)
    expect(host.stderr).toBe('error: Invalid --host: the simulator listens on loopback only: 127.0.0.1, ::1 or localhost.\n')
  })

  it('says a profile without a cluster has none, instead of falling back to the simulator', async () => {
    const cwd = workspace()
    const r = await runLora(['cluster', 'status'], { cwd, env: { DATABASE_URL: 'postgres://127.0.0.1:1/x' } })
    expect(r).toEqual({ code: 2, stdout: '', stderr: 'error: Profile default has no GPU cluster: set GPU_CLUSTER_API_URL.\n' })
  })

  it('runs the simulator in the foreground and stops cleanly on Ctrl-C', async () => {
    const cwd = workspace()
    const sim = startLora(['cluster', 'simulate', '--speed', '60'], { cwd })
    const url = (await sim.waitFor('stdout', /^http:\/\/127\.0\.0\.1:\d+\n/)).trim()
    const listed = await fetch(`${url}/training/jobs`)
    expect(listed.status).toBe(200)
    expect(await listed.json()).toEqual({ jobs: [] })
    sim.child.kill('SIGINT')
    expect(await sim.exited).toBe(0)
  })

  it('holds the embedded stack for other terminals, which use its database and its simulator', async () => {
    const cwd = workspace()
    const local = startLora(['local', 'start'], { cwd })
    const banner = await local.waitFor('stdout', /other terminals/)
    expect(banner).toContain('embedded stack running')
    const simulatorUrl = /cluster\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(banner)![1]
    const status = await runLora(['db', 'status', '--json'], { cwd, env: { LORA_EMBEDDED_WAIT: '1s' } })
    expect(status.code).toBe(0)
    expect(JSON.parse(status.stdout).current).toBe(true)
    const clusters = await runLora(['cluster', 'status', '--json'], { cwd, env: { LORA_EMBEDDED_WAIT: '1s' } })
    expect(JSON.parse(clusters.stdout).clusters[0].url).toBe(`simulator (${simulatorUrl})`)
    local.child.kill('SIGINT')
    expect(await local.exited).toBe(0)
    expect(local.output().stderr).toContain('embedded stack stopped')
    expect(existsSync(join(cwd, '.lora', 'db', 'db.lock'))).toBe(false)
    // What it served stays beside the data: a replacement serves on the same ports.
    expect(JSON.parse(readFileSync(join(cwd, '.lora', 'local.json'), 'utf8'))).toMatchObject({ simulator: simulatorUrl })
  }, 90_000)
})
