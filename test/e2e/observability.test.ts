import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { runLora, tempDir } from '../helpers/cli.js'
import { openEmbedded } from '../../src/db/embedded.js'
import { migrate } from '../../src/db/migrate.js'
import { copyMigratedEmbedded } from '../helpers/db.js'
import { systemClock } from '../../src/clock.js'
import type { Db } from '../../src/db/types.js'
import { FolderStorage } from '../../src/storage/folder.js'
import { BUCKETS } from '../../src/storage/types.js'
import { startReceiver, type Receiver } from '../alerts/helpers.js'

/**
 * metrics, health and alerts as a user runs them: the built binary on the embedded
 * profile. The test holds the embedded database and serves it, as `lora local start`
 * does, so each command connects over the socket instead of opening PGlite itself.
 */
describe('lora metrics, health and alerts (the built binary, embedded profile)', () => {
  let dir: { path: string; remove(): void }
  let db: Db
  let hook: Receiver
  const lora = (args: string[], env: Record<string, string> = {}) => runLora(args, { cwd: dir.path, env })

  beforeAll(async () => {
    dir = tempDir('lora-e2e-observability-')
    copyMigratedEmbedded(join(dir.path, '.lora', 'db'))
    db = await openEmbedded({ dir: join(dir.path, '.lora', 'db'), serve: true, clock: systemClock })
    await migrate(db)
    const now = Date.now()
    await db.query(
      `INSERT INTO datasets (id, user_id, name, format, status, storage_path, file_size, validated_at, created_at)
       VALUES ('d0000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000001', 'support chats', 'chat', 'ready', 'u/d.jsonl', 1048576, $1, $2)`,
      [new Date(now - 60_000), new Date(now - 5 * 60_000)],
    )
    await db.query(
      `INSERT INTO training_jobs (user_id, dataset_id, status, created_at, started_at, completed_at, error_type, error_message)
       SELECT '00000000-0000-4000-8000-000000000001', 'd0000000-0000-4000-8000-000000000001', s, $1, $1, CASE WHEN s IN ('completed', 'failed') THEN $2::timestamptz END,
              CASE WHEN s = 'failed' THEN 'TIMEOUT_ERROR' END, CASE WHEN s = 'failed' THEN 'Training timeout' END
         FROM unnest(ARRAY['completed', 'failed', 'queued', 'running']) s`,
      [new Date(now - 3 * 3_600_000), new Date(now - 3_600_000)],
    )
    hook = await startReceiver()
  }, 60_000)
  afterAll(async () => {
    await hook?.close()
    await db?.close()
    dir?.remove()
  })

  it('health: exit 1 on a critical check, 0 once fixed; --fail-on warning; --json; bad input exits 2', async () => {
    // A generous timeout per check: this runs beside other test files on a small machine.
    const all = await lora(['health', '--json', '--timeout', '30s'])
    expect(all.code).toBe(1)
    const report = JSON.parse(all.stdout)
    expect(report.checks.map((c: { name: string }) => c.name)).toEqual([
      'database', 'schema', 'buckets', 'cluster:simulator', 'queue', 'failed-jobs', 'stuck-jobs', 'daemon', 'orphans', 'budget', 'storage',
    ])
    // A fresh embedded stack has no buckets yet; the simulator answers; no daemon has run with a job queued.
    const statuses = Object.fromEntries(report.checks.map((c: { name: string; status: string; message: string }) => [c.name, `${c.status}${c.status === 'ok' ? '' : `: ${c.message}`}`]))
    expect(Object.fromEntries(report.checks.map((c: { name: string; status: string }) => [c.name, c.status])), JSON.stringify(statuses)).toMatchObject({
      database: 'ok', schema: 'ok', buckets: 'critical', 'cluster:simulator': 'ok', daemon: 'critical', 'stuck-jobs': 'warning',
    })

    const storage = new FolderStorage(join(dir.path, '.lora', 'storage'), systemClock)
    for (const b of [BUCKETS.datasets, BUCKETS.models, BUCKETS.validationImages]) await storage.ensureBucket(b)
    await db.query(`INSERT INTO lora_ops.daemon_heartbeats (daemon_id, host, pid, version, last_cycle_at) VALUES ('e2e', 'h', 1, '0', now())`)
    const fixed = await lora(['health', '--check', 'database,schema,buckets,daemon,stuck-jobs'])
    expect(fixed.code).toBe(0)
    expect(fixed.stdout.split('\n')[0]).toBe('check\tstatus\tvalue\tthreshold\tmessage')
    expect(fixed.stderr).toMatch(/^health: warning \(4 ok, 1 warning, 0 critical\); exit 0 with --fail-on critical\n$/)
    const strict = await lora(['health', '--check', 'stuck-jobs', '--fail-on', 'warning'])
    expect(strict.code).toBe(1)

    expect(await lora(['health', '--check', 'database,bogus'])).toEqual({
      code: 2,
      stdout: '',
      stderr: 'error: Unknown check "bogus" (checks: database, schema, buckets, cluster, queue, failed-jobs, stuck-jobs, daemon, orphans, budget, storage, cluster:NAME).\n',
    })
    expect(await lora(['health', '--fail-on', 'never'])).toEqual({ code: 2, stdout: '', stderr: 'error: Invalid --fail-on: expected warning or critical, got "never".\n' })
  })

  it('metrics: --json with every section; a section; bad input exits 2', async () => {
    const r = await lora(['metrics', '--json'])
    expect(r.code).toBe(0)
    const report = JSON.parse(r.stdout)
    expect(report.sections).toEqual(['jobs', 'datasets', 'cost', 'storage', 'errors', 'users'])
    expect(report.jobs).toMatchObject({ queue_depth: 1, success_rate: { completed: 1, finished: 2, value: 50 }, failure_rate: { failed: 1, finished: 2, value: 50 } })
    expect(report.errors.by_type.types).toEqual([{ error_type: 'TIMEOUT_ERROR', count: 1, last_occurred: expect.any(String) }])
    expect(report.storage.datasets).toEqual({ bytes: 1048576, gb: 0.001, count: 1 })
    const jobs = await lora(['metrics', 'jobs', '--period', '24h'])
    expect(jobs.code).toBe(0)
    expect(jobs.stdout).toContain('Jobs created (per hour, 24h)')
    expect(await lora(['metrics', 'jobz'])).toEqual({ code: 2, stdout: '', stderr: 'error: Invalid argument: unknown section "jobz" (sections: jobs, datasets, cost, storage, errors, users).\n' })
  })

  it('alerts: evaluate --dry-run, silence, test a sink; bad rule, --for or sink exits 2 and changes nothing', async () => {
    const dry = await lora(['alerts', 'evaluate', '--dry-run', '--json'])
    expect(dry.code).toBe(0)
    expect(JSON.parse(dry.stdout)).toMatchObject({ dry_run: true, notified: { fired: expect.any(Number) } })
    expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM lora_ops.alert_state'))[0]!.n).toBe(0)

    const silenced = await lora(['alerts', 'silence', 'training-timeout', '--for', '2h', '--reason', 'known'], { LORA_ACTOR: 'e2e' })
    expect(silenced.code).toBe(0)
    expect(silenced.stdout).toMatch(/^silenced training-timeout until \S+ \(2h\)\n$/)
    expect(await lora(['alerts', 'silence', 'training-timeout', '--for', 'soon'])).toEqual({
      code: 2,
      stdout: '',
      stderr: 'error: Invalid --for: expected a duration such as 2s, 10m or 7d (got "soon").\n',
    })
    expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM lora_ops.alert_silences'))[0]!.n).toBe(1)

    const sent = await lora(['alerts', 'test', 'webhook'], { LORA_ALERT_WEBHOOK_URL: hook.url, LORA_ALERT_WEBHOOK_SECRET: 'e2e-secret' })
    expect(sent).toMatchObject({ code: 0, stdout: 'test alert sent to webhook (HTTP 200, 1 attempt)\n' })
    expect(hook.requests[0]!.headers['x-lora-signature']).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/)
    expect(await lora(['alerts', 'test', 'slack'])).toEqual({
      code: 2,
      stdout: '',
      stderr: 'error: Profile default has no slack alert sink.\nhint: Set LORA_SLACK_WEBHOOK_URL, or alerts.sinks.slack in .lorarc.\n',
    })

    const evaluated = await lora(['alerts', 'evaluate'])
    expect(evaluated.code).toBe(0)
    expect(evaluated.stdout).toContain('training-timeout')
    const listed = await lora(['alerts', 'list', '--json'])
    const listing = JSON.parse(listed.stdout)
    expect(listing.alerts.find((a: { rule: string }) => a.rule === 'training-timeout')).toMatchObject({ status: 'firing', silenced_until: expect.any(String) })
    expect(listing.silences).toEqual([expect.objectContaining({ rule: 'training-timeout', created_by: 'e2e', reason: 'known' })])
  })
})
