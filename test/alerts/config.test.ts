import { afterEach, describe, expect, it } from 'vitest'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfig } from '../../src/config/load.js'
import { describeConfig } from '../../src/config/describe.js'
import { alertsConfig, DEFAULTS } from '../../src/config/schema.js'
import { clearSecrets, redact } from '../../src/redact.js'
import { UsageError } from '../../src/errors.js'
import { tempDir } from '../helpers/cli.js'

describe('the alerts section of the configuration', () => {
  const dirs: { remove(): void }[] = []
  afterEach(() => {
    for (const d of dirs.splice(0)) d.remove()
    clearSecrets()
  })
  const load = (lorarc: string | null, env: Record<string, string> = {}) => {
    const d = tempDir('lora-alerts-config-')
    dirs.push(d)
    if (lorarc !== null) writeFileSync(join(d.path, '.lorarc'), lorarc, { mode: 0o600 })
    return loadConfig({ cwd: d.path, env, homeDir: d.path, flags: {} }).then(
      (r) => ({ ...r, rc: join(d.path, '.lorarc') }),
    )
  }
  const failing = async (lorarc: string, env: Record<string, string> = {}) => {
    const error = await load(lorarc, env).then(() => null, (e: unknown) => e)
    expect(error).toBeInstanceOf(UsageError)
    return (error as UsageError).message
  }

  it('has the defaults of DESIGN section 8, and the spend alert follows the budget warning ratio', async () => {
    const { config } = await load(null, { LORA_MONTHLY_BUDGET_USD: '300' })
    expect(config.alerts).toEqual({
      repeatIntervalMs: 4 * 3_600_000,
      failureRate: { warning: 0.1, critical: 0.2, minJobs: 5 },
      stuckAfterMs: 2 * 3_600_000,
      queueDepth: 50,
      queueForMs: 30 * 60_000,
      workerDownAfterMs: 10 * 60_000,
      avgCostPerJob: 2.5,
      costOverrunRatio: 1.5,
      spendRatio: 0.75,
      storageRatio: 0.8,
      slowValidationMs: 5 * 60_000,
      timeoutWindowMs: 24 * 3_600_000,
      sinks: {},
    })
    expect(alertsConfig({ budget: { monthlyUsd: 1, warnRatio: 0.6 } }).spendRatio).toBe(0.6)
  })

  it('reads thresholds and sinks from .lorarc, secrets from the environment, and redacts them', async () => {
    const { config, rc } = await load(
      `profile: prod
profiles:
  prod:
    budget: { warnRatio: 0.5 }
    alerts:
      repeatInterval: 1h
      failureRateWarning: 0.05
      failureRateCritical: 0.15
      queueDepth: 20
      queueFor: 15m
      storageRatio: 0.9
      sinks:
        slack: { webhookUrl: "env:SLACK_HOOK" }
        pagerduty: { routingKey: "env:PD_KEY" }
        webhook: { url: "https://hooks.example.com/lora?token=abc123", secret: "env:HOOK_SECRET", minSeverity: warning }
        alertmanager: { url: "http://alertmanager:9093" }
`,
      { SLACK_HOOK: 'https://hooks.slack.com/services/T0/B0/s3cr3tslack', PD_KEY: 'pd-routing-key-123', HOOK_SECRET: 'hmac-secret-xyz' },
    )
    const a = config.alerts!
    expect(a).toMatchObject({ repeatIntervalMs: 3_600_000, failureRate: { warning: 0.05, critical: 0.15 }, queueDepth: 20, queueForMs: 900_000, storageRatio: 0.9, spendRatio: 0.5 })
    expect(a.sinks).toEqual({
      slack: { webhookUrl: 'https://hooks.slack.com/services/T0/B0/s3cr3tslack', minSeverity: 'info' },
      pagerduty: { routingKey: 'pd-routing-key-123', url: DEFAULTS.pagerDutyUrl, minSeverity: 'critical' },
      webhook: { url: 'https://hooks.example.com/lora?token=abc123', secret: 'hmac-secret-xyz', minSeverity: 'warning' },
      alertmanager: { url: 'http://alertmanager:9093', minSeverity: 'warning' },
    })
    const shown = JSON.stringify(describeConfig({ config, files: [rc], warnings: [] }))
    for (const secret of ['s3cr3tslack', 'pd-routing-key-123', 'hmac-secret-xyz', 'abc123']) expect(shown).not.toContain(secret)
    expect(shown).toContain('"key":"alerts.sinks.alertmanager.url","value":"http://alertmanager:9093"')
    expect(redact('posting to https://hooks.slack.com/services/T0/B0/s3cr3tslack failed')).toBe('posting to *** failed')
    expect(redact('key pd-routing-key-123')).toBe('key ***')
  })

  it('takes the sinks from the environment alone', async () => {
    const { config } = await load(null, {
      LORA_SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/A/B/C',
      LORA_PAGERDUTY_ROUTING_KEY: 'routing-key-1',
      LORA_ALERT_WEBHOOK_URL: 'https://example.com/hook',
      LORA_ALERT_WEBHOOK_SECRET: 'sekret-value',
      LORA_ALERTMANAGER_URL: 'http://am.internal:9093',
    })
    expect(Object.keys(config.alerts!.sinks)).toEqual(['slack', 'pagerduty', 'webhook', 'alertmanager'])
    expect(config.alerts!.sinks.webhook).toEqual({ url: 'https://example.com/hook', secret: 'sekret-value', minSeverity: 'info' })
    expect(config.sources['alerts.sinks.pagerduty.routingKey']).toBe('env LORA_PAGERDUTY_ROUTING_KEY')
  })

  it('names the file, key and expectation of a bad alerts section', async () => {
    const rc = (body: string) => `profiles:\n  default:\n    alerts:\n${body}`
    expect(await failing(rc('      failureRateWarning: 10\n'))).toMatch(/: profiles\.default\.alerts\.failureRateWarning must be at most 1, got 10\.$/)
    expect(await failing(rc('      queueFor: soon\n'))).toMatch(/: profiles\.default\.alerts\.queueFor must be a duration such as 30s, 10m or 2h, got "soon"\.$/)
    expect(await failing(rc('      sinks: { email: { to: x } }\n'))).toMatch(/: profiles\.default\.alerts\.sinks has an unknown key "email"\.$/)
    expect(await failing(rc('      sinks: { slack: { minSeverity: loud, webhookUrl: "https://x" } }\n'))).toMatch(/: profiles\.default\.alerts\.sinks\.slack\.minSeverity must be one of info, warning, critical, got "loud"\.$/)
    expect(await failing(rc('      failureRateWarning: 0.3\n      failureRateCritical: 0.2\n'))).toMatch(/alerts\.failureRateCritical \(0\.2\) is below alerts\.failureRateWarning \(0\.3\)\.$/)
    expect(await failing('', { LORA_ALERT_WEBHOOK_SECRET: 'only-the-secret' })).toBe('env LORA_ALERT_WEBHOOK_SECRET: alerts.sinks.webhook.url is not set.')
    expect(await failing('', { LORA_SLACK_WEBHOOK_URL: 'hooks.slack.com/x' })).toBe('env LORA_SLACK_WEBHOOK_URL: alerts.sinks.slack.webhookUrl must be an http(s) URL.')
  })

  it('.lorarc.example documents a valid alerts section', async () => {
    const example = readFileSync(new URL('../../.lorarc.example', import.meta.url), 'utf8')
    const { config } = await load(example, {
      DATABASE_URL: 'postgres://u:p@db.example.com/lora',
      SUPABASE_SERVICE_ROLE_KEY: 'service-role',
      GPU_CLUSTER_API_KEY: 'gpu-key',
      GPU_FALLBACK_API_KEY: 'gpu-key-2',
      LORA_SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/A/B/C',
      LORA_PAGERDUTY_ROUTING_KEY: 'routing',
      LORA_ALERT_WEBHOOK_URL: 'https://example.com/hook',
      LORA_ALERT_WEBHOOK_SECRET: 'secret',
    })
    expect(config.alerts).toMatchObject({ repeatIntervalMs: 4 * 3_600_000, spendRatio: 0.75, queueDepth: 50 })
    expect(Object.keys(config.alerts!.sinks)).toEqual(['slack', 'pagerduty', 'webhook', 'alertmanager'])
  })
})
