import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { backends, type TestDb } from '../helpers/db.js'
import { runLora, tempDir } from '../helpers/cli.js'
import { startSimulator, type Simulator } from '../../src/cluster/simulator.js'

const A = '00000000-0000-4000-8000-00000000000a'
const postgres = backends.find((b) => b.name === 'postgres')!

// The built binary against a real Postgres and the simulator on loopback.
describe.skipIf(!postgres.available)('limits, budget and costs commands (the built binary)', () => {
  let db: TestDb
  let sim: Simulator
  let dir: { path: string; remove(): void }
  let env: Record<string, string>
  beforeAll(async () => {
    db = await postgres.open()
    sim = await startSimulator({ seed: 1 })
    dir = tempDir('lora-e2e-costs-')
    env = { DATABASE_URL: db.url!, GPU_CLUSTER_API_URL: sim.url, LORA_STORAGE_DIR: dir.path, LORA_ACTOR: 'e2e' }
    await db.query(`INSERT INTO user_training_limits (user_id, loras_created_this_month, monthly_limit) VALUES ($1, 4, 10)`, [A])
  }, 60_000)
  afterAll(async () => {
    await sim?.close()
    await db?.close()
    dir?.remove()
  })

  const limitOf = async () => (await db.query<{ monthly_limit: number }>('SELECT monthly_limit FROM user_training_limits WHERE user_id = $1', [A]))[0]!.monthly_limit

  it('limits set refuses bad input with one sentence and exit 2, and without --yes off a terminal; writes nothing', async () => {
    for (const monthly of ['-1', '2.5']) {
      const r = await runLora(['limits', 'set', '--user', A, '--monthly', monthly], { cwd: dir.path, env })
      expect(r.code).toBe(2)
      expect(r.stdout).toBe('')
      expect(r.stderr.split('\n')[0]).toBe(`error: Invalid --monthly: must be an integer from 0 to 1000000 (got "${monthly}").`)
    }
    const unconfirmed = await runLora(['limits', 'set', '--user', A, '--monthly', '30'], { cwd: dir.path, env })
    expect(unconfirmed.code).toBe(2)
    expect(await limitOf()).toBe(10)
    expect(await db.query(`SELECT 1 FROM lora_ops.audit_log WHERE action = 'limits.set'`)).toHaveLength(0)
  })

  it('limits set --yes, then limits show --json; budget show --json; costs reconcile on clean data exits 0', async () => {
    const set = await runLora(['limits', 'set', '--user', A, '--monthly', '30', '--yes', '--json'], { cwd: dir.path, env })
    expect(set.code).toBe(0)
    expect(JSON.parse(set.stdout)).toEqual({ user_id: A, previous_limit: 10, monthly_limit: 30, used: 4, dry_run: false })
    const show = await runLora(['limits', 'show', '--json'], { cwd: dir.path, env })
    expect(show.code).toBe(0)
    expect(JSON.parse(show.stdout)).toMatchObject({ timezone: 'UTC', users: [{ user_id: A, used: 4, monthly_limit: 30, remaining: 26 }] })
    const budget = await runLora(['budget', 'show', '--json'], { cwd: dir.path, env: { ...env, LORA_MONTHLY_BUDGET_USD: '50' } })
    expect(budget.code).toBe(0)
    expect(JSON.parse(budget.stdout)).toMatchObject({ budget: 50, recorded: 0, committed: 0, remaining: 50 })
    const reconcile = await runLora(['costs', 'reconcile', '--json'], { cwd: dir.path, env })
    expect(reconcile.code).toBe(0)
    expect(JSON.parse(reconcile.stdout)).toMatchObject({ ok: true, drift: 0, jobs: [], unowned: [] })
  })

  it('a limits.timezone that is not an IANA zone is exit 2, naming it', async () => {
    const r = await runLora(['limits', 'show'], { cwd: dir.path, env: { ...env, LORA_LIMITS_TIMEZONE: 'Mars/Olympus' } })
    expect(r.code).toBe(2)
    expect(r.stderr.split('\n')[0]).toBe('error: env LORA_LIMITS_TIMEZONE: limits.timezone must be an IANA time zone such as UTC, Europe/Paris or America/New_York, got "Mars/Olympus".')
  })
})
