import { readFile, stat } from 'node:fs/promises'
import { dirname, join, resolve, isAbsolute } from 'node:path'
import { UsageError } from '../errors.js'
import { registerSecret } from '../redact.js'
import { databaseTls } from '../db/tls.js'
import { isLoopbackHost } from '../loopback.js'
import type { z } from 'zod'
import { invalidConfig } from './invalid.js'
import {
  ConfigFile,
  DEFAULTS,
  ENV_KEYS,
  FLAG_KEYS,
  ProfileFile,
  type AlertSinksConfig,
  type AlertsConfig,
  type ClusterConfig,
  type ResolvedConfig,
  type ProfileValues,
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

async function readConfigFile(path: string, required: boolean): Promise<ConfigFileRead | null> {
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
  // Every profile of the file is checked, the ones not in use too, so that a typo
  // shows before the day that profile is chosen. The values themselves are taken
  // as written and parsed with the other layers' (loadConfig).
  const checked = ConfigFile.safeParse(raw)
  if (!checked.success) {
    const issue = checked.error.issues[0]!
    const key = issue.path.join('.')
    throw invalidConfig(path, key, issue, valueAt(raw, issue.path), { secret: SECRET_KEYS.test(key) })
  }
  const mode = (await stat(path)).mode
  return { raw: raw as ConfigFileRead['raw'], readableByOthers: (mode & 0o044) !== 0 }
}

interface ConfigFileRead {
  raw: { profile?: string; profiles?: Record<string, Record<string, unknown>> }
  readableByOthers: boolean
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let at = value
  for (const k of path) at = at && typeof at === 'object' ? (at as Record<PropertyKey, unknown>)[k] : undefined
  return at
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** Flattens { a: { b: 1 } } to { 'a.b': 1 }; a cluster's fields stay under clusters.NAME. */
function flatten(value: Record<string, unknown>, prefix = ''): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) {
    const key = prefix ? `${prefix}.${k}` : k
    if (isPlainObject(v)) Object.assign(out, flatten(v, key))
    else if (v !== undefined) out[key] = v
  }
  return out
}

/** Lays one layer over the merged values, noting where each value came from. */
function mergeLayer(into: Record<string, unknown>, layer: Record<string, unknown>, source: string, sources: Record<string, string>, prefix = '') {
  for (const [k, v] of Object.entries(layer)) {
    const key = prefix ? `${prefix}.${k}` : k
    if (isPlainObject(v)) {
      if (!isPlainObject(into[k])) into[k] = {}
      mergeLayer(into[k] as Record<string, unknown>, v, source, sources, key)
    } else if (v !== undefined) {
      into[k] = v
      sources[key] = source
    }
  }
}

/** A dotted key's value as a nested object: ('a.b', 1) -> { a: { b: 1 } }. */
function nested(key: string, value: unknown): Record<string, unknown> {
  return key
    .split('.')
    .reverse()
    .reduce<Record<string, unknown>>((inner, k, i) => ({ [k]: i === 0 ? value : inner }), {})
}

function envLayers(env: ConfigInputs['env']): Layer[] {
  return Object.entries(ENV_KEYS)
    .filter(([name]) => env[name] !== undefined && env[name] !== '')
    .map(([name, key]) => ({ source: `env ${name}`, values: nested(key, env[name]) }))
}

function flagLayers(flags: ConfigInputs['flags']): Layer[] {
  const given: Record<string, string | undefined> = { '--database-url': flags.databaseUrl }
  return Object.entries(FLAG_KEYS)
    .filter(([flag]) => given[flag] !== undefined)
    .map(([flag, key]) => ({ source: `flag ${flag}`, values: nested(key, given[flag]) }))
}

/**
 * Resolves the configuration: flags, then environment, then the nearest .lorarc,
 * then the user's config file, then the built-in defaults. The layers are merged
 * first and then parsed once, by the profile's schema, whatever their source.
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
    inputs.flags.profile ?? inputs.env.LORA_PROFILE ?? lorarc?.raw.profile ?? user?.raw.profile ?? 'default'
  const profileSource = inputs.flags.profile
    ? 'flag --profile'
    : inputs.env.LORA_PROFILE
      ? 'env LORA_PROFILE'
      : lorarc?.raw.profile
        ? lorarcPath!
        : user?.raw.profile
          ? userPath
          : 'default'

  const known = new Set([...Object.keys(user?.raw.profiles ?? {}), ...Object.keys(lorarc?.raw.profiles ?? {})])
  const envDescribesProfile = Boolean(inputs.env.DATABASE_URL || inputs.flags.databaseUrl)
  if (profile !== 'default' && !known.has(profile) && !envDescribesProfile) {
    throw new UsageError(
      `Unknown profile "${profile}"${known.size ? ` (profiles defined: ${[...known].sort().join(', ')})` : ' (no profile is defined)'}.`,
      { code: 'unknown_profile', hint: 'Define it under profiles: in .lorarc, or pick another with --profile.' },
    )
  }

  const layers: Layer[] = []
  const fileLayer = (path: string, file: ConfigFileRead) => {
    const values = file.raw.profiles?.[profile]
    if (!values) return
    layers.push({ source: path, values })
    if (file.readableByOthers) {
      for (const [key, value] of Object.entries(flatten(values))) {
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
  layers.push(...envLayers(inputs.env), ...flagLayers(inputs.flags))

  const merged: Record<string, unknown> = {}
  const sources: Record<string, string> = { profile: profileSource }
  for (const layer of layers) mergeLayer(merged, layer.values, layer.source, sources)

  // "env:NAME" references: the secret stays in the environment, not in the file.
  for (const [key, value] of Object.entries(flatten(merged))) {
    if (typeof value === 'string' && value.startsWith('env:')) {
      const name = value.slice(4)
      const resolved = inputs.env[name]
      if (resolved === undefined || resolved === '') {
        throw new UsageError(`${sources[key]}: "${key}" refers to the environment variable ${name}, which is not set.`, {
          code: 'config_env_missing',
          hint: `Set ${name}, or change "${key}" in ${sources[key]}.`,
        })
      }
      mergeLayer(merged, nested(key, resolved), `${sources[key]} (env ${name})`, sources)
    }
  }
  for (const [key, value] of Object.entries(flatten(merged))) {
    if (SECRET_KEYS.test(key) && typeof value === 'string') registerSecret(value)
  }

  const parsed = ProfileFile.safeParse(merged)
  if (!parsed.success) throw invalidMerged(parsed.error.issues[0]!, merged, sources, profile, files)

  const config = resolveConfig(profile, parsed.data, sources, inputs.cwd, await findStack(inputs.cwd))
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

/**
 * The error of the merged values' parse: the source of the bad key (or, for one
 * that is missing, of a key beside it), the key as that source spells it.
 */
function invalidMerged(issue: z.core.$ZodIssue, merged: Record<string, unknown>, sources: Record<string, string>, profile: string, files: string[]) {
  const key = issue.path.join('.')
  const source =
    sources[key] ?? Object.entries(sources).find(([k]) => k.startsWith(`${key.split('.').slice(0, -1).join('.')}.`))?.[1] ?? 'configuration'
  const inFile = files.some((f) => source === f || source.startsWith(`${f} (env `))
  const envName = Object.entries(ENV_KEYS).find(([, k]) => k === key)?.[0]
  const value = valueAt(merged, issue.path)
  return invalidConfig(source, inFile ? `profiles.${profile}.${key}` : key, issue, value, {
    secret: SECRET_KEYS.test(key),
    ...(value === undefined && envName ? { hint: `Set ${envName}, or ${key} in the profile.` } : {}),
  })
}

function resolveConfig(
  profile: string,
  p: ProfileValues,
  sources: Record<string, string>,
  cwd: string,
  foundStack: string | null,
): ResolvedConfig {
  const stateDir = foundStack ?? join(cwd, '.lora')
  const dbUrl = p.database?.url
  let embedded = false
  let database: ResolvedConfig['database']
  if (dbUrl === undefined || dbUrl === 'embedded' || dbUrl.startsWith('embedded:')) {
    embedded = true
    const given = dbUrl?.startsWith('embedded:') ? dbUrl.slice('embedded:'.length) : ''
    const dir = given ? (isAbsolute(given) ? given : resolve(cwd, given)) : join(stateDir, 'db')
    database = { url: `embedded:${dir}`, embedded: true, dir, pooler: false }
    sources['database.url'] ??= 'default'
  } else {
    registerSecret(safePassword(dbUrl))
    database = { url: dbUrl, embedded: false, pooler: Boolean(p.database?.pooler) || /pooler\.supabase\.com:6543/.test(dbUrl) }
  }

  const quotaBytes = (p.storage?.quotaGb ?? DEFAULTS.storageQuotaGb) * 1024 ** 3
  let storage: StorageConfig | null = null
  if (p.storage?.supabaseUrl) {
    const key = p.storage.serviceRoleKey
    if (!key) {
      throw new UsageError(`${sources['storage.supabaseUrl']}: storage.supabaseUrl is set but storage.serviceRoleKey is not.`, {
        code: 'config_invalid',
        hint: 'Set SUPABASE_SERVICE_ROLE_KEY, or storage.serviceRoleKey: "env:SUPABASE_SERVICE_ROLE_KEY".',
      })
    }
    storage = {
      kind: 'supabase',
      url: p.storage.supabaseUrl,
      serviceRoleKey: key,
      quotaBytes,
      ...(p.storage.timeout !== undefined ? { timeoutMs: p.storage.timeout } : {}),
    }
  } else if (p.storage?.dir) {
    const dir = p.storage.dir
    storage = { kind: 'folder', dir: isAbsolute(dir) ? dir : resolve(cwd, dir), quotaBytes }
  } else if (embedded) {
    storage = { kind: 'folder', dir: join(stateDir, 'storage'), quotaBytes }
    sources['storage.dir'] = 'default (embedded)'
  }

  const clusters: ClusterConfig[] = Object.entries(p.clusters ?? {}).map(([name, c]) => ({
    name,
    url: c.url,
    ...(c.apiKey ? { apiKey: c.apiKey } : {}),
    connectTimeoutMs: c.connectTimeout ?? DEFAULTS.connectTimeoutMs,
    requestTimeoutMs: c.requestTimeout ?? DEFAULTS.requestTimeoutMs,
    ...(c.fallback ? { fallback: c.fallback } : {}),
  }))
  // A key sent over plain http to another machine can be read on the way.
  const insecureOk = p.allowInsecureHttp === true
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
    if (c.fallback && !p.clusters?.[c.fallback]) {
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

  const budget = { monthlyUsd: p.budget?.monthlyUsd ?? DEFAULTS.budget.monthlyUsd, warnRatio: p.budget?.warnRatio ?? DEFAULTS.budget.warnRatio }
  return {
    profile,
    embedded,
    stateDir,
    stackFound: foundStack !== null,
    database,
    storage,
    clusters,
    breaker: {
      failureThreshold: p.breaker?.failures ?? DEFAULTS.breaker.failureThreshold,
      windowMs: p.breaker?.window ?? DEFAULTS.breaker.windowMs,
      cooldownMs: p.breaker?.cooldown ?? DEFAULTS.breaker.cooldownMs,
    },
    budget,
    limits: { timezone: p.limits?.timezone ?? 'UTC' },
    simulator: { speed: p.simulator?.speed ?? DEFAULTS.simulatorSpeed },
    training: {
      timeoutMs: p.training?.timeout ?? DEFAULTS.training.timeoutMs,
      leaseMs: p.training?.lease ?? DEFAULTS.training.leaseMs,
      maxAttempts: p.training?.maxAttempts ?? DEFAULTS.training.maxAttempts,
    },
    gpuPrices: { ...DEFAULTS.gpuPrices, ...p.gpuPrices },
    artifacts: {
      maxBytes: (p.artifacts?.maxSizeGb ?? DEFAULTS.artifactMaxGb) * 1024 ** 3,
      allowedHosts: p.artifacts?.allowedHosts ?? [],
    },
    alerts: resolveAlerts(p.alerts ?? {}, sources, budget.warnRatio),
    sources,
  }
}

function resolveAlerts(a: NonNullable<ProfileValues['alerts']>, sources: Record<string, string>, budgetWarnRatio: number): AlertsConfig {
  const d = DEFAULTS.alerts
  const s = a.sinks ?? {}
  const sinks: AlertSinksConfig = {}
  if (s.slack) sinks.slack = { webhookUrl: s.slack.webhookUrl, minSeverity: s.slack.minSeverity ?? 'info' }
  if (s.pagerduty) {
    sinks.pagerduty = { routingKey: s.pagerduty.routingKey, url: s.pagerduty.url ?? DEFAULTS.pagerDutyUrl, minSeverity: s.pagerduty.minSeverity ?? 'critical' }
  }
  if (s.webhook) {
    sinks.webhook = { url: s.webhook.url, ...(s.webhook.secret ? { secret: s.webhook.secret } : {}), minSeverity: s.webhook.minSeverity ?? 'info' }
  }
  if (s.alertmanager) sinks.alertmanager = { url: s.alertmanager.url, minSeverity: s.alertmanager.minSeverity ?? 'warning' }
  const failureRate = {
    warning: a.failureRateWarning ?? d.failureRate.warning,
    critical: a.failureRateCritical ?? d.failureRate.critical,
    minJobs: a.failureRateMinJobs ?? d.failureRate.minJobs,
  }
  if (failureRate.critical < failureRate.warning) {
    throw new UsageError(
      `${sources['alerts.failureRateCritical'] ?? sources['alerts.failureRateWarning']}: alerts.failureRateCritical (${failureRate.critical}) is below alerts.failureRateWarning (${failureRate.warning}).`,
      { code: 'config_invalid' },
    )
  }
  return {
    repeatIntervalMs: a.repeatInterval ?? d.repeatIntervalMs,
    failureRate,
    stuckAfterMs: a.stuckAfter ?? d.stuckAfterMs,
    queueDepth: a.queueDepth ?? d.queueDepth,
    queueForMs: a.queueFor ?? d.queueForMs,
    workerDownAfterMs: a.workerDownAfter ?? d.workerDownAfterMs,
    avgCostPerJob: a.avgCostPerJob ?? d.avgCostPerJob,
    costOverrunRatio: a.costOverrunRatio ?? d.costOverrunRatio,
    spendRatio: a.spendRatio ?? budgetWarnRatio,
    storageRatio: a.storageRatio ?? d.storageRatio,
    slowValidationMs: a.slowValidation ?? d.slowValidationMs,
    timeoutWindowMs: a.timeoutWindow ?? d.timeoutWindowMs,
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
