import { readFile, stat } from 'node:fs/promises'
import { dirname, join, resolve, isAbsolute } from 'node:path'
import { UsageError } from '../errors.js'
import { registerSecret } from '../redact.js'
import { databaseTls } from '../db/tls.js'
import { isLoopbackHost } from '../loopback.js'
import {
  ConfigFile,
  DEFAULTS,
  SimulatorSpeed,
  type AlertSeverity,
  type AlertSinksConfig,
  type AlertsConfig,
  type ClusterConfig,
  type ResolvedConfig,
  type StorageConfig,
} from './schema.js'

export interface ConfigInputs {
  cwd: string
  env: Record<string, string | undefined>
  homeDir: string
  flags: { profile?: string; databaseUrl?: string }
}

export interface LoadedConfig {
  config: ResolvedConfig
  /** Files read, nearest first. */
  files: string[]
  warnings: string[]
}

/** Keys whose values are secrets: redacted in `config show`, warned about in readable files. */
const SECRET_KEYS = /(apiKey|serviceRoleKey|password|webhookUrl|routingKey|secret|sinks\.webhook\.url)$/

interface Layer {
  source: string
  values: Record<string, unknown>
}

/** The nearest .lorarc, from the working directory upwards. */
export async function findLorarc(cwd: string): Promise<string | null> {
  let dir = resolve(cwd)
  for (;;) {
    const candidate = join(dir, '.lorarc')
    try {
      if ((await stat(candidate)).isFile()) return candidate
    } catch {
      // Not here; look one level up.
    }
    const parent = dirname(dir)
    if (parent === dir) return null
    dir = parent
  }
}

/**
 * The nearest embedded stack (a `.lora` folder holding a database), from the
 * working directory upwards, as `.lorarc` is found.
 */
export async function findStack(cwd: string): Promise<string | null> {
  let dir = resolve(cwd)
  for (;;) {
    try {
      if ((await stat(join(dir, '.lora', 'db'))).isDirectory()) return join(dir, '.lora')
    } catch {
      // Not here; look one level up.
    }
    const parent = dirname(dir)
    if (parent === dir) return null
    dir = parent
  }
}

export function userConfigPath(env: ConfigInputs['env'], homeDir: string): string {
  if (env.LORA_CONFIG) return env.LORA_CONFIG
  const base = env.XDG_CONFIG_HOME || join(homeDir, '.config')
  return join(base, 'lora', 'config.yaml')
}

async function readConfigFile(path: string, required: boolean) {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    if (!required && (error as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw new UsageError(`Cannot read the configuration file ${path}: ${(error as Error).message}.`)
  }
  const { parse } = await import('yaml')
  let raw: unknown
  try {
    raw = parse(text) ?? {}
  } catch (error) {
    const message = (error as Error).message.split('\n')[0]
    throw new UsageError(`The configuration file ${path} is not valid YAML or JSON: ${message}.`, {
      code: 'config_invalid',
    })
  }
  const parsed = ConfigFile.safeParse(raw)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    const key = issue.path.join('.') || '(top level)'
    const message =
      issue.code === 'unrecognized_keys'
        ? `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`
        : issue.message.replace(/^Invalid input: /, '')
    throw new UsageError(`The configuration file ${path} is invalid at "${key}": ${message}.`, {
      code: 'config_invalid',
      hint: 'See .lorarc.example for every key and what it expects.',
    })
  }
  const mode = (await stat(path)).mode
  return { data: parsed.data, raw: raw as Record<string, unknown>, readableByOthers: (mode & 0o044) !== 0 }
}

/** Flattens { a: { b: 1 } } to { 'a.b': 1 }; a cluster's fields stay under clusters.NAME. */
function flatten(value: Record<string, unknown>, prefix = ''): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) {
    const key = prefix ? `${prefix}.${k}` : k
    if (v && typeof v === 'object' && !Array.isArray(v)) Object.assign(out, flatten(v as Record<string, unknown>, key))
    else if (v !== undefined) out[key] = v
  }
  return out
}

function envLayer(env: ConfigInputs['env']): Layer[] {
  const pairs: [string, string, unknown][] = []
  const add = (name: string, key: string, map: (v: string) => unknown = (v) => v) => {
    const v = env[name]
    if (v !== undefined && v !== '') pairs.push([name, key, map(v)])
  }
  add('DATABASE_URL', 'database.url')
  add('LORA_DATABASE_POOLER', 'database.pooler', (v) => v === '1' || v.toLowerCase() === 'true')
  add('SUPABASE_URL', 'storage.supabaseUrl')
  add('SUPABASE_SERVICE_ROLE_KEY', 'storage.serviceRoleKey')
  add('LORA_STORAGE_DIR', 'storage.dir')
  add('GPU_CLUSTER_API_URL', 'clusters.primary.url')
  add('GPU_CLUSTER_API_KEY', 'clusters.primary.apiKey')
  add('LORA_MONTHLY_BUDGET_USD', 'budget.monthlyUsd', Number)
  add('LORA_LIMITS_TIMEZONE', 'limits.timezone')
  add('LORA_SIMULATOR_SPEED', 'simulator.speed')
  add('LORA_SLACK_WEBHOOK_URL', 'alerts.sinks.slack.webhookUrl')
  add('LORA_PAGERDUTY_ROUTING_KEY', 'alerts.sinks.pagerduty.routingKey')
  add('LORA_ALERT_WEBHOOK_URL', 'alerts.sinks.webhook.url')
  add('LORA_ALERT_WEBHOOK_SECRET', 'alerts.sinks.webhook.secret')
  add('LORA_ALERTMANAGER_URL', 'alerts.sinks.alertmanager.url')
  return pairs.map(([name, key, value]) => ({ source: `env ${name}`, values: { [key]: value } }))
}

/**
 * Resolves the configuration: flags, then environment, then the nearest .lorarc,
 * then the user's config file, then the built-in defaults.
 */
export async function loadConfig(inputs: ConfigInputs): Promise<LoadedConfig> {
  const warnings: string[] = []
  const files: string[] = []
  const lorarcPath = await findLorarc(inputs.cwd)
  const lorarc = lorarcPath ? await readConfigFile(lorarcPath, true) : null
  const userPath = userConfigPath(inputs.env, inputs.homeDir)
  const user = await readConfigFile(userPath, Boolean(inputs.env.LORA_CONFIG))
  if (lorarcPath && lorarc) files.push(lorarcPath)
  if (user) files.push(userPath)

  const profile =
    inputs.flags.profile ?? inputs.env.LORA_PROFILE ?? lorarc?.data.profile ?? user?.data.profile ?? 'default'
  const profileSource = inputs.flags.profile
    ? 'flag --profile'
    : inputs.env.LORA_PROFILE
      ? 'env LORA_PROFILE'
      : lorarc?.data.profile
        ? lorarcPath!
        : user?.data.profile
          ? userPath
          : 'default'

  const known = new Set([...Object.keys(user?.data.profiles ?? {}), ...Object.keys(lorarc?.data.profiles ?? {})])
  const envDescribesProfile = Boolean(inputs.env.DATABASE_URL || inputs.flags.databaseUrl)
  if (profile !== 'default' && !known.has(profile) && !envDescribesProfile) {
    throw new UsageError(
      `Unknown profile "${profile}"${known.size ? ` (profiles defined: ${[...known].sort().join(', ')})` : ' (no profile is defined)'}.`,
      { code: 'unknown_profile', hint: 'Define it under profiles: in .lorarc, or pick another with --profile.' },
    )
  }

  const layers: Layer[] = []
  const fileLayer = (path: string, file: NonNullable<typeof lorarc>) => {
    const raw = file.data.profiles?.[profile] as Record<string, unknown> | undefined
    if (!raw) return
    const values = flatten(raw)
    layers.push({ source: path, values })
    if (file.readableByOthers) {
      for (const [key, value] of Object.entries(values)) {
        if (typeof value !== 'string' || value.startsWith('env:')) continue
        // A database URL is a secret when it carries a password.
        if (SECRET_KEYS.test(key) || (key === 'database.url' && safePassword(value))) {
          warnings.push(
            `${path} holds a literal secret at profiles.${profile}.${key} and is readable by group or others: chmod 600 it, or use "env:NAME".`,
          )
        }
      }
    }
  }
  if (user) fileLayer(userPath, user)
  if (lorarc) fileLayer(lorarcPath!, lorarc)
  layers.push(...envLayer(inputs.env))
  if (inputs.flags.databaseUrl) layers.push({ source: 'flag --database-url', values: { 'database.url': inputs.flags.databaseUrl } })

  const values: Record<string, unknown> = {}
  const sources: Record<string, string> = { profile: profileSource }
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer.values)) {
      values[key] = value
      sources[key] = layer.source
    }
  }

  // "env:NAME" references: the secret stays in the environment, not in the file.
  for (const [key, value] of Object.entries(values)) {
    if (typeof value === 'string' && value.startsWith('env:')) {
      const name = value.slice(4)
      const resolved = inputs.env[name]
      if (resolved === undefined || resolved === '') {
        throw new UsageError(`${sources[key]}: "${key}" refers to the environment variable ${name}, which is not set.`, {
          code: 'config_env_missing',
          hint: `Set ${name}, or change "${key}" in ${sources[key]}.`,
        })
      }
      values[key] = resolved
      sources[key] = `${sources[key]} (env ${name})`
    }
  }
  for (const [key, value] of Object.entries(values)) {
    if (SECRET_KEYS.test(key) && typeof value === 'string') registerSecret(value)
  }

  const config = resolveConfig(profile, values, sources, inputs.cwd, await findStack(inputs.cwd))
  if (config.embedded && config.database?.dir && config.database.dir !== join(config.stateDir, 'db')) {
    // An embedded:DIR named explicitly is found where it is named.
    config.stackFound = await stat(config.database.dir).then((s) => s.isDirectory(), () => false)
  }
  if (config.database && !config.database.embedded) {
    const tls = databaseTls(config.database.url, inputs.env)
    const host = new URL(config.database.url).hostname
    if (tls.mode === 'disable' && !isLoopbackHost(host)) {
      warnings.push(`${sources['database.url']}: database.url sets sslmode=disable for ${host}: the connection, password included, crosses the network unencrypted.`)
    }
  }
  return { config, files, warnings }
}

function num(values: Record<string, unknown>, key: string, fallback: number, sources: Record<string, string>): number {
  const v = values[key]
  if (v === undefined) {
    sources[key] ??= 'default'
    return fallback
  }
  if (typeof v === 'number') return v
  // Values that came from env arrive as text, durations as "10m".
  return Number(v)
}

function resolveConfig(
  profile: string,
  values: Record<string, unknown>,
  sources: Record<string, string>,
  cwd: string,
  foundStack: string | null,
): ResolvedConfig {
  const stateDir = foundStack ?? join(cwd, '.lora')
  const dbUrl = values['database.url'] as string | undefined
  let embedded = false
  let database: ResolvedConfig['database'] = null
  if (dbUrl === undefined || dbUrl === 'embedded' || dbUrl.startsWith('embedded:')) {
    embedded = true
    const given = dbUrl?.startsWith('embedded:') ? dbUrl.slice('embedded:'.length) : ''
    const dir = given ? (isAbsolute(given) ? given : resolve(cwd, given)) : join(stateDir, 'db')
    database = { url: `embedded:${dir}`, embedded: true, dir, pooler: false }
    sources['database.url'] ??= 'default'
  } else if (/^postgres(ql)?:\/\//.test(dbUrl)) {
    registerSecret(safePassword(dbUrl))
    database = { url: dbUrl, embedded: false, pooler: Boolean(values['database.pooler']) || /pooler\.supabase\.com:6543/.test(dbUrl) }
  } else {
    throw new UsageError(`${sources['database.url']}: database.url must be a postgres:// URL or embedded[:DIR], got "${dbUrl.replace(/:[^:@/]*@/, ':***@')}".`, {
      code: 'config_invalid',
    })
  }

  const quotaBytes = num(values, 'storage.quotaGb', DEFAULTS.storageQuotaGb, sources) * 1024 ** 3
  let storage: StorageConfig | null = null
  if (values['storage.supabaseUrl']) {
    const key = values['storage.serviceRoleKey'] as string | undefined
    if (!key) {
      throw new UsageError(`${sources['storage.supabaseUrl']}: storage.supabaseUrl is set but storage.serviceRoleKey is not.`, {
        code: 'config_invalid',
        hint: 'Set SUPABASE_SERVICE_ROLE_KEY, or storage.serviceRoleKey: "env:SUPABASE_SERVICE_ROLE_KEY".',
      })
    }
    storage = {
      kind: 'supabase',
      url: values['storage.supabaseUrl'] as string,
      serviceRoleKey: key,
      quotaBytes,
      ...(values['storage.timeout'] !== undefined ? { timeoutMs: num(values, 'storage.timeout', 0, sources) } : {}),
    }
  } else if (values['storage.dir']) {
    const dir = values['storage.dir'] as string
    storage = { kind: 'folder', dir: isAbsolute(dir) ? dir : resolve(cwd, dir), quotaBytes }
  } else if (embedded) {
    storage = { kind: 'folder', dir: join(stateDir, 'storage'), quotaBytes }
    sources['storage.dir'] = 'default (embedded)'
  }

  const clusterNames = new Set(
    Object.keys(values)
      .filter((k) => k.startsWith('clusters.'))
      .map((k) => k.split('.')[1]!),
  )
  const clusters: ClusterConfig[] = [...clusterNames].map((name) => {
    const url = values[`clusters.${name}.url`] as string | undefined
    if (!url) {
      throw new UsageError(`${sources[`clusters.${name}.apiKey`] ?? 'configuration'}: cluster "${name}" has no url.`, {
        code: 'config_invalid',
        hint: 'Set GPU_CLUSTER_API_URL, or clusters.' + name + '.url.',
      })
    }
    if (url !== 'simulator' && !/^https?:\/\//.test(url)) {
      throw new UsageError(`${sources[`clusters.${name}.url`]}: clusters.${name}.url must be an http(s) URL or "simulator", got "${url}".`, {
        code: 'config_invalid',
      })
    }
    const fallback = values[`clusters.${name}.fallback`] as string | undefined
    return {
      name,
      url,
      ...(values[`clusters.${name}.apiKey`] ? { apiKey: values[`clusters.${name}.apiKey`] as string } : {}),
      connectTimeoutMs: num(values, `clusters.${name}.connectTimeout`, DEFAULTS.connectTimeoutMs, sources),
      requestTimeoutMs: num(values, `clusters.${name}.requestTimeout`, DEFAULTS.requestTimeoutMs, sources),
      ...(fallback ? { fallback } : {}),
    }
  })
  // A key sent over plain http to another machine can be read on the way.
  const insecureOk = values.allowInsecureHttp === true || values.allowInsecureHttp === 'true'
  const refuseInsecure = (url: string, key: string, what: string) => {
    let u: URL
    try {
      u = new URL(url)
    } catch {
      return
    }
    if (insecureOk || u.protocol !== 'http:' || isLoopbackHost(u.hostname)) return
    throw new UsageError(`${sources[key]}: ${key} is plain http to ${u.hostname}, so ${what} would cross the network unencrypted: use https, or set allowInsecureHttp: true in the profile.`, {
      code: 'config_insecure_http',
    })
  }
  if (storage?.kind === 'supabase') refuseInsecure(storage.url, 'storage.supabaseUrl', 'the service-role key')
  for (const c of clusters) if (c.apiKey && c.url !== 'simulator') refuseInsecure(c.url, `clusters.${c.name}.url`, 'its API key')
  for (const c of clusters) {
    if (c.fallback && !clusterNames.has(c.fallback)) {
      throw new UsageError(`${sources[`clusters.${c.name}.fallback`]}: cluster "${c.name}" falls back to "${c.fallback}", which is not defined.`, {
        code: 'config_invalid',
      })
    }
  }
  if (clusters.length === 0 && embedded) {
    clusters.push({
      name: 'simulator',
      url: 'simulator',
      connectTimeoutMs: DEFAULTS.connectTimeoutMs,
      requestTimeoutMs: DEFAULTS.requestTimeoutMs,
    })
    sources['clusters.simulator.url'] = 'default (embedded)'
  }

  const artifactHosts = values['artifacts.allowedHosts']
  const artifacts = {
    maxBytes: num(values, 'artifacts.maxSizeGb', DEFAULTS.artifactMaxGb, sources) * 1024 ** 3,
    allowedHosts: Array.isArray(artifactHosts) ? artifactHosts.map(String) : typeof artifactHosts === 'string' ? artifactHosts.split(',').map((h) => h.trim()).filter(Boolean) : [],
  }

  const gpuPrices: Record<string, number> = { ...DEFAULTS.gpuPrices }
  for (const [key, value] of Object.entries(values)) {
    if (key.startsWith('gpuPrices.')) gpuPrices[key.slice('gpuPrices.'.length)] = Number(value)
  }

  return {
    profile,
    embedded,
    stateDir,
    stackFound: foundStack !== null,
    database,
    storage,
    clusters,
    breaker: {
      failureThreshold: num(values, 'breaker.failures', DEFAULTS.breaker.failureThreshold, sources),
      windowMs: num(values, 'breaker.window', DEFAULTS.breaker.windowMs, sources),
      cooldownMs: num(values, 'breaker.cooldown', DEFAULTS.breaker.cooldownMs, sources),
    },
    budget: {
      monthlyUsd: num(values, 'budget.monthlyUsd', DEFAULTS.budget.monthlyUsd, sources),
      warnRatio: num(values, 'budget.warnRatio', DEFAULTS.budget.warnRatio, sources),
    },
    limits: { timezone: resolveTimezone(values, sources) },
    simulator: { speed: resolveSimulatorSpeed(values, sources) },
    training: {
      timeoutMs: num(values, 'training.timeout', DEFAULTS.training.timeoutMs, sources),
      leaseMs: num(values, 'training.lease', DEFAULTS.training.leaseMs, sources),
      maxAttempts: num(values, 'training.maxAttempts', DEFAULTS.training.maxAttempts, sources),
    },
    gpuPrices,
    artifacts,
    alerts: resolveAlerts(values, sources, num(values, 'budget.warnRatio', DEFAULTS.budget.warnRatio, sources)),
    sources,
  }
}

/** simulator.speed (LORA_SIMULATOR_SPEED): parsed by the file's own schema, whichever layer it came from. */
function resolveSimulatorSpeed(values: Record<string, unknown>, sources: Record<string, string>): number {
  const given = values['simulator.speed']
  if (given === undefined) {
    sources['simulator.speed'] ??= 'default'
    return DEFAULTS.simulatorSpeed
  }
  const parsed = SimulatorSpeed.safeParse(given)
  if (!parsed.success) {
    throw new UsageError(`${sources['simulator.speed']}: simulator.speed ${parsed.error.issues[0]!.message}, got "${String(given)}".`, {
      code: 'config_invalid',
      hint: 'Simulated time per real time: 60 runs an hour of training in a minute.',
    })
  }
  return parsed.data
}

/** limits.timezone: an IANA zone, checked here so that a bad one stops every command (exit 2), naming it. */
function resolveTimezone(values: Record<string, unknown>, sources: Record<string, string>): string {
  const zone = values['limits.timezone']
  if (zone === undefined) {
    sources['limits.timezone'] ??= 'default'
    return 'UTC'
  }
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: String(zone) })
  } catch {
    throw new UsageError(`${sources['limits.timezone']}: limits.timezone "${String(zone)}" is not an IANA time zone.`, {
      code: 'config_invalid',
      hint: 'Use a zone such as UTC, Europe/Paris or America/New_York.',
    })
  }
  return String(zone)
}

function resolveAlerts(values: Record<string, unknown>, sources: Record<string, string>, budgetWarnRatio: number): AlertsConfig {
  const d = DEFAULTS.alerts
  const n = (key: string, fallback: number) => num(values, `alerts.${key}`, fallback, sources)
  const str = (key: string) => values[`alerts.sinks.${key}`] as string | undefined
  const severity = (sink: string, fallback: AlertSeverity) => (str(`${sink}.minSeverity`) as AlertSeverity | undefined) ?? fallback
  const needs = (sink: string, key: string, env: string) => {
    const present = Object.keys(values).find((k) => k.startsWith(`alerts.sinks.${sink}.`))
    if (present && !str(`${sink}.${key}`)) {
      throw new UsageError(`${sources[present]}: the ${sink} alert sink has no ${key}.`, {
        code: 'config_invalid',
        hint: `Set ${env}, or alerts.sinks.${sink}.${key}.`,
      })
    }
    return Boolean(present)
  }
  const httpUrl = (sink: string, key: string) => {
    const url = str(`${sink}.${key}`)!
    if (!/^https?:\/\//.test(url)) {
      throw new UsageError(`${sources[`alerts.sinks.${sink}.${key}`]}: alerts.sinks.${sink}.${key} must be an http(s) URL.`, { code: 'config_invalid' })
    }
    return url
  }
  const sinks: AlertSinksConfig = {}
  if (needs('slack', 'webhookUrl', 'LORA_SLACK_WEBHOOK_URL')) {
    sinks.slack = { webhookUrl: httpUrl('slack', 'webhookUrl'), minSeverity: severity('slack', 'info') }
  }
  if (needs('pagerduty', 'routingKey', 'LORA_PAGERDUTY_ROUTING_KEY')) {
    sinks.pagerduty = {
      routingKey: str('pagerduty.routingKey')!,
      url: str('pagerduty.url') ? httpUrl('pagerduty', 'url') : DEFAULTS.pagerDutyUrl,
      minSeverity: severity('pagerduty', 'critical'),
    }
  }
  if (needs('webhook', 'url', 'LORA_ALERT_WEBHOOK_URL')) {
    sinks.webhook = {
      url: httpUrl('webhook', 'url'),
      ...(str('webhook.secret') ? { secret: str('webhook.secret')! } : {}),
      minSeverity: severity('webhook', 'info'),
    }
  }
  if (needs('alertmanager', 'url', 'LORA_ALERTMANAGER_URL')) {
    sinks.alertmanager = { url: httpUrl('alertmanager', 'url'), minSeverity: severity('alertmanager', 'warning') }
  }
  const failureRate = {
    warning: n('failureRateWarning', d.failureRate.warning),
    critical: n('failureRateCritical', d.failureRate.critical),
    minJobs: n('failureRateMinJobs', d.failureRate.minJobs),
  }
  if (failureRate.critical < failureRate.warning) {
    throw new UsageError(
      `${sources['alerts.failureRateCritical'] ?? sources['alerts.failureRateWarning']}: alerts.failureRateCritical (${failureRate.critical}) is below alerts.failureRateWarning (${failureRate.warning}).`,
      { code: 'config_invalid' },
    )
  }
  return {
    repeatIntervalMs: n('repeatInterval', d.repeatIntervalMs),
    failureRate,
    stuckAfterMs: n('stuckAfter', d.stuckAfterMs),
    queueDepth: n('queueDepth', d.queueDepth),
    queueForMs: n('queueFor', d.queueForMs),
    workerDownAfterMs: n('workerDownAfter', d.workerDownAfterMs),
    avgCostPerJob: n('avgCostPerJob', d.avgCostPerJob),
    costOverrunRatio: n('costOverrunRatio', d.costOverrunRatio),
    spendRatio: n('spendRatio', budgetWarnRatio),
    storageRatio: n('storageRatio', d.storageRatio),
    slowValidationMs: n('slowValidation', d.slowValidationMs),
    timeoutWindowMs: n('timeoutWindow', d.timeoutWindowMs),
    sinks,
  }
}

function safePassword(url: string): string | undefined {
  try {
    const password = new URL(url).password
    return password ? decodeURIComponent(password) : undefined
  } catch {
    return undefined
  }
}
