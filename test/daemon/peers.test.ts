import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { BIN, tempDir } from '../helpers/cli.js'
import { pgUrl } from '../helpers/db.js'
import { startPgServer, type PgServer } from '../helpers/pg-server.js'
import { ALERTMANAGER, PROMTOOL, promtoolCheck, startAlertmanager, type Alertmanager } from '../helpers/peers.js'
import { startReceiver, type Receiver } from '../alerts/helpers.js'
import { openPostgres } from '../../src/db/postgres.js'
import { migrate } from '../../src/db/migrate.js'
import { startSimulator, type Simulator } from '../../src/cluster/simulator.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** The built daemon with --listen on the given database, its log collected; stop() ends it. */
function startDaemon(cwd: string, env: Record<string, string>) {
  const child = spawn(BIN, ['daemon', '--interval', '200ms', '--listen', '127.0.0.1:0', '--log-format', 'json'], {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: cwd, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  const out = { stderr: '' }
  child.stderr.on('data', (d) => (out.stderr += d))
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()))
  return {
    out,
    /** Polls until `done` holds (or the daemon exits): at most `ms`. */
    async until(done: () => boolean | Promise<boolean>, ms = 30_000): Promise<boolean> {
      for (let waited = 0; waited < ms && child.exitCode === null; waited += 100) {
        if (await done()) return true
        await sleep(100)
      }
      return done()
    },
    async base(): Promise<string> {
      await this.until(() => /"url":"http:\/\/127\.0\.0\.1:\d+"/.test(out.stderr))
      const m = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(out.stderr)
      if (!m) throw new Error(`the daemon did not listen:\n${out.stderr.slice(-3000)}`)
      return m[1]!
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM')
      await exited
    },
  }
}

describe.skipIf(!pgUrl)('the daemon against its real peers: promtool, Alertmanager, a database stopped and restarted', () => {
  let server: PgServer
  let sim: Simulator
  let dir: { path: string; remove(): void }
  let n = 0
  beforeAll(async () => {
    server = (await startPgServer())!
    sim = await startSimulator({ speed: 3600, seed: 5 })
    dir = tempDir('lora-peers-')
  }, 120_000)
  afterAll(async () => {
    await sim?.close()
    server?.destroy()
    dir?.remove()
  })

  async function freshDatabase(): Promise<string> {
    const name = `peers_${++n}`
    const admin = await openPostgres({ url: server.url, max: 1 })
    await admin.query(`CREATE DATABASE ${name}`)
    await admin.close()
    const url = server.url.replace(/\/postgres$/, `/${name}`)
    const db = await openPostgres({ url, max: 1 })
    await migrate(db)
    await db.close()
    return url
  }

  it.skipIf(!PROMTOOL)('/metrics of a running daemon passes promtool check metrics with no warning; /healthz shows an open breaker', async () => {
    const url = await freshDatabase()
    const daemon = startDaemon(dir.path, { DATABASE_URL: url, LORA_STORAGE_DIR: join(dir.path, 'storage'), GPU_CLUSTER_API_URL: sim.url })
    try {
      const base = await daemon.base()
      expect(await daemon.until(() => daemon.out.stderr.includes('"msg":"cycle done"')), daemon.out.stderr.slice(-3000)).toBe(true)
      const text = await (await fetch(`${base}/metrics`)).text()
      const checked = await promtoolCheck(PROMTOOL!, text)
      expect(checked, text).toEqual({ code: 0, output: '' })
      // Node's metrics under their standard names; lora's under lora_; cluster series from the first scrape.
      expect(text).toMatch(/^process_cpu_seconds_total \d/m)
      expect(text).toMatch(/^process_resident_memory_bytes \d/m)
      expect(text).toMatch(/^nodejs_active_handles(\{[^}]*\})? \d+/m)
      expect(text).not.toContain('lora_daemon_process_')
      expect(text).toContain('lora_daemon_submissions_total{cluster="primary"} 0')
      expect(text).toContain('lora_cluster_call_errors_total{cluster="primary",kind="network"} 0')
      expect(text).toContain('lora_cluster_breaker_state{cluster="primary"} 0')
      for (const line of text.split('\n').filter((l) => l.startsWith('# TYPE '))) {
        expect(line, 'every metric is lora_, process_ or nodejs_').toMatch(/^# TYPE (lora|process|nodejs)_/)
      }

      // Another daemon opened the primary cluster's breaker: the daemon still works (200), and says so.
      const db = await openPostgres({ url, max: 1 })
      await db.query(
        `INSERT INTO lora_ops.circuit_breakers (cluster, state, opened_at, open_until, last_error)
         VALUES ('primary', 'open', now(), now() + interval '1 hour', 'connect ECONNREFUSED')
         ON CONFLICT (cluster) DO UPDATE SET state = 'open', opened_at = now(), open_until = now() + interval '1 hour', last_error = 'connect ECONNREFUSED'`,
      )
      await db.close()
      let body: Record<string, unknown> = {}
      let status = 0
      await daemon.until(async () => {
        const r = await fetch(`${base}/healthz`)
        status = r.status
        body = (await r.json()) as Record<string, unknown>
        return (body.clusters as { breaker: string }[])[0]?.breaker === 'open'
      })
      expect(status).toBe(200)
      expect(body).toMatchObject({
        status: 'degraded',
        consecutive_failures: 0,
        database: { status: 'ok', error: null },
        last_cycle: { ok: true, error: null, at: expect.any(String), duration_ms: expect.any(Number) },
        clusters: [{ name: 'primary', breaker: 'open', open_until: expect.any(String), last_error: 'connect ECONNREFUSED' }],
      })
      expect(await (await fetch(`${base}/metrics`)).text()).toContain('lora_cluster_breaker_state{cluster="primary"} 2')
    } finally {
      await daemon.stop()
    }
  }, 90_000)

  describe.skipIf(!ALERTMANAGER)('a database outage under the daemon', () => {
    let am: Alertmanager
    let slack: Receiver
    let pd: Receiver
    let hook: Receiver
    beforeAll(async () => {
      am = await startAlertmanager(ALERTMANAGER!)
      slack = await startReceiver()
      pd = await startReceiver((r) => ((r.json as { routing_key?: string })?.routing_key === 'R0UT1NGKEY' ? null : 'bad routing key'), { status: 202, body: '{"status":"success"}' })
      hook = await startReceiver()
    }, 60_000)
    afterAll(async () => {
      await am?.close()
      await slack?.close()
      await pd?.close()
      await hook?.close()
    })

    it('database-errors fires once per sink while Postgres is stopped, and resolves once per sink after it restarts (real Alertmanager read back)', async () => {
      const url = await freshDatabase()
      const cwd = join(dir.path, 'outage')
      const { mkdirSync } = await import('node:fs')
      mkdirSync(cwd, { recursive: true })
      writeFileSync(join(cwd, '.lorarc'), `profiles:\n  default:\n    alerts:\n      sinks:\n        pagerduty: { routingKey: "env:PD_KEY", url: "${pd.url}/v2/enqueue" }\n`)
      const daemon = startDaemon(cwd, {
        DATABASE_URL: url,
        LORA_STORAGE_DIR: join(cwd, 'storage'),
        GPU_CLUSTER_API_URL: sim.url,
        LORA_SLACK_WEBHOOK_URL: `${slack.url}/hook`,
        LORA_ALERT_WEBHOOK_URL: `${hook.url}/lora`,
        LORA_ALERTMANAGER_URL: am.url,
        PD_KEY: 'R0UT1NGKEY',
      })
      const ours = (r: Receiver) => r.requests.filter((q) => q.body.includes('database-errors'))
      const amHas = async () => (await am.alerts()).filter((a) => a.labels.alertname === 'database-errors')
      let stopped = false
      try {
        await daemon.base()
        expect(await daemon.until(() => daemon.out.stderr.includes('"msg":"cycle done"')), daemon.out.stderr.slice(-3000)).toBe(true)

        server.stop('fast')
        stopped = true
        const fired = await daemon.until(async () => ours(slack).length >= 1 && ours(pd).length >= 1 && ours(hook).length >= 1 && (await amHas()).length >= 1, 60_000)
        expect(fired, daemon.out.stderr.slice(-4000)).toBe(true)
        expect(daemon.out.stderr).toContain('deduplicating in this process')
        expect((await amHas())[0]).toMatchObject({ status: { state: 'active' }, labels: { severity: 'critical', source: 'lora' } })

        server.start()
        stopped = false
        const resolved = await daemon.until(async () => ours(hook).length >= 2 && ours(slack).length >= 2 && pd.requests.length >= 2 && (await amHas()).length === 0, 60_000)
        expect(resolved, daemon.out.stderr.slice(-4000)).toBe(true)
        // One more evaluation's worth of cycles: nothing else is sent for it.
        const cycles = (daemon.out.stderr.match(/"msg":"cycle done"/g) ?? []).length
        await daemon.until(() => (daemon.out.stderr.match(/"msg":"cycle done"/g) ?? []).length >= cycles + 3, 20_000)

        const slackTexts = ours(slack).map((r) => (r.json as { text: string }).text)
        expect(slackTexts).toHaveLength(2)
        expect(slackTexts[0]).toMatch(/^\[FIRING\] critical: database-errors: The daemon's last \d+ cycles failed/)
        expect(slackTexts[1]).toMatch(/^\[RESOLVED\] critical: database-errors: the daemon's cycles succeed again since \d\d:\d\d UTC, after \d+s of failures$/)

        const pdEvents = ours(pd).length ? pd.requests.map((r) => r.json as { event_action: string; dedup_key: string }) : []
        expect(pdEvents.map((e) => e.event_action)).toEqual(['trigger', 'resolve'])
        expect(pdEvents[1]!.dedup_key).toBe(pdEvents[0]!.dedup_key)

        const hookEvents = ours(hook).map((r) => r.json as { event: string; alert: { message: string; status: string }; details?: { firing_message?: string } })
        expect(hookEvents.map((e) => e.event)).toEqual(['alert.fired', 'alert.resolved'])
        expect(hookEvents[1]!.alert.message).toMatch(/^the daemon's cycles succeed again since \d\d:\d\d UTC, after \d+s of failures$/)
        expect(hookEvents[1]!.details?.firing_message).toMatch(/^The daemon's last \d+ cycles failed/)

        // Memory reconciled with the stored state: the alert is on record, resolved.
        const db = await openPostgres({ url, max: 1 })
        const rows = await db.query<{ status: string; resolved_at: Date | null }>(`SELECT status, resolved_at FROM lora_ops.alert_state WHERE rule = 'database-errors'`)
        await db.close()
        expect(rows).toEqual([{ status: 'resolved', resolved_at: expect.any(Date) }])
      } finally {
        if (stopped) server.start()
        await daemon.stop()
      }
    }, 180_000)
  })
})
