import type { LoadedConfig } from './load.js'
import { redact } from '../redact.js'
import { formatDuration } from './duration.js'
import { alertsConfig, limitsTimezone, simulatorSpeed } from './schema.js'

export interface ConfigReport {
  profile: string
  embedded: boolean
  files: string[]
  warnings: string[]
  values: { key: string; value: string; source: string }[]
}

/** The resolved configuration as key, value, source rows, secrets redacted. */
export function describeConfig(loaded: LoadedConfig): ConfigReport {
  const c = loaded.config
  const s = c.sources
  const rows: { key: string; value: string; source: string }[] = []
  const add = (key: string, value: unknown, sourceKey = key) => {
    if (value === undefined || value === null) return
    rows.push({ key, value: redact(String(value)), source: s[sourceKey] ?? 'default' })
  }
  add('profile', c.profile)
  add('database.url', c.database?.url)
  if (c.database && !c.database.embedded) add('database.pooler', c.database.pooler)
  if (c.storage?.kind === 'supabase') {
    add('storage.supabaseUrl', c.storage.url)
    add('storage.serviceRoleKey', c.storage.serviceRoleKey ? '***' : undefined)
  } else if (c.storage) {
    add('storage.dir', c.storage.dir)
  }
  if (c.storage) add('storage.quotaGb', c.storage.quotaBytes / 1024 ** 3)
  for (const cluster of c.clusters) {
    const k = `clusters.${cluster.name}`
    add(`${k}.url`, cluster.url)
    if (cluster.apiKey) add(`${k}.apiKey`, '***')
    add(`${k}.connectTimeout`, formatDuration(cluster.connectTimeoutMs))
    add(`${k}.requestTimeout`, formatDuration(cluster.requestTimeoutMs))
    if (cluster.fallback) add(`${k}.fallback`, cluster.fallback)
  }
  add('breaker.failures', c.breaker.failureThreshold)
  add('breaker.window', formatDuration(c.breaker.windowMs))
  add('breaker.cooldown', formatDuration(c.breaker.cooldownMs))
  add('budget.monthlyUsd', c.budget.monthlyUsd)
  add('budget.warnRatio', c.budget.warnRatio)
  add('limits.timezone', limitsTimezone(c))
  add('simulator.speed', simulatorSpeed(c))
  add('training.timeout', formatDuration(c.training.timeoutMs))
  add('training.lease', formatDuration(c.training.leaseMs))
  add('training.maxAttempts', c.training.maxAttempts)
  for (const [gpu, price] of Object.entries(c.gpuPrices)) add(`gpuPrices.${gpu}`, price)
  const a = alertsConfig(c)
  add('alerts.repeatInterval', formatDuration(a.repeatIntervalMs))
  add('alerts.failureRateWarning', a.failureRate.warning)
  add('alerts.failureRateCritical', a.failureRate.critical)
  add('alerts.failureRateMinJobs', a.failureRate.minJobs)
  add('alerts.stuckAfter', formatDuration(a.stuckAfterMs))
  add('alerts.queueDepth', a.queueDepth)
  add('alerts.queueFor', formatDuration(a.queueForMs))
  add('alerts.workerDownAfter', formatDuration(a.workerDownAfterMs))
  add('alerts.avgCostPerJob', a.avgCostPerJob)
  add('alerts.costOverrunRatio', a.costOverrunRatio)
  add('alerts.spendRatio', a.spendRatio, s['alerts.spendRatio'] ? 'alerts.spendRatio' : 'budget.warnRatio')
  add('alerts.storageRatio', a.storageRatio)
  add('alerts.slowValidation', formatDuration(a.slowValidationMs))
  add('alerts.timeoutWindow', formatDuration(a.timeoutWindowMs))
  const sinks = a.sinks
  if (sinks.slack) {
    add('alerts.sinks.slack.webhookUrl', '***')
    add('alerts.sinks.slack.minSeverity', sinks.slack.minSeverity)
  }
  if (sinks.pagerduty) {
    add('alerts.sinks.pagerduty.routingKey', '***')
    add('alerts.sinks.pagerduty.url', sinks.pagerduty.url)
    add('alerts.sinks.pagerduty.minSeverity', sinks.pagerduty.minSeverity)
  }
  if (sinks.webhook) {
    add('alerts.sinks.webhook.url', '***')
    if (sinks.webhook.secret) add('alerts.sinks.webhook.secret', '***')
    add('alerts.sinks.webhook.minSeverity', sinks.webhook.minSeverity)
  }
  if (sinks.alertmanager) {
    add('alerts.sinks.alertmanager.url', sinks.alertmanager.url)
    add('alerts.sinks.alertmanager.minSeverity', sinks.alertmanager.minSeverity)
  }
  return { profile: c.profile, embedded: c.embedded, files: loaded.files, warnings: loaded.warnings, values: rows }
}
