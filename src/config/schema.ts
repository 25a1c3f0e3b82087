import { z } from 'zod'
import { parseDuration } from './duration.js'

/** A duration written as "30s", "10m", "2h" or as milliseconds. */
export const Duration = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const ms = typeof value === 'number' ? (value >= 0 ? value : null) : parseDuration(value)
  if (ms === null) {
    ctx.addIssue({ code: 'custom', message: `expected a duration such as 30s, 10m or 2h, got "${value}"` })
    return z.NEVER
  }
  return ms
})

// The environment and flags give text: a number or a boolean may come written as one.
// Anything else stays as it was, so the schema says what was expected.
const NUMBER_TEXT = /^\s*[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?\s*$/i
const fromText = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (typeof v === 'string' && NUMBER_TEXT.test(v) ? Number(v) : v), schema)
const Bool = z.preprocess((v) => {
  if (typeof v !== 'string') return v
  const t = v.trim().toLowerCase()
  return t === 'true' || t === '1' ? true : t === 'false' || t === '0' ? false : v
}, z.boolean())
/**
 * Text that must hold a shape. A file may name an environment variable instead
 * ("env:NAME"): the file is checked as written, the value once it is resolved.
 */
const TextOf = (holds: (v: string) => boolean, expected: string) =>
  z.string().refine((v) => v.startsWith('env:') || holds(v), expected)
const HttpUrl = TextOf((v) => /^https?:\/\//.test(v), 'must be an http(s) URL')

/** An IANA zone name, as Intl knows them. */
function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone })
    return true
  } catch {
    return false
  }
}

const ClusterFile = z
  .object({
    url: TextOf((v) => v === 'simulator' || /^https?:\/\//.test(v), 'must be an http(s) URL or "simulator"').describe('base URL of the GPU cluster API, or "simulator"'),
    apiKey: z.string().optional(),
    connectTimeout: Duration.optional(),
    requestTimeout: Duration.optional(),
    fallback: z.string().optional(),
  })
  .strict()

const BreakerFile = z
  .object({
    failures: fromText(z.number().int().positive()).optional(),
    window: Duration.optional(),
    cooldown: Duration.optional(),
  })
  .strict()

const DatabaseFile = z
  .object({
    url: TextOf((v) => /^postgres(ql)?:\/\//.test(v) || v === 'embedded' || v.startsWith('embedded:'), 'must be a postgres:// URL or embedded[:DIR]').optional(),
    pooler: Bool.optional(),
  })
  .strict()

const StorageFile = z
  .object({
    supabaseUrl: TextOf((v) => URL.canParse(v), 'must be a URL').optional(),
    serviceRoleKey: z.string().optional(),
    dir: z.string().optional(),
    quotaGb: fromText(z.number().positive()).optional(),
    timeout: Duration.optional(),
  })
  .strict()

const LimitsFile = z
  .object({
    /** The IANA zone whose midnight on the 1st starts a user's month (reset-limits). */
    timezone: TextOf(isTimeZone, 'must be an IANA time zone such as UTC, Europe/Paris or America/New_York').optional(),
  })
  .strict()

const BudgetFile = z
  .object({
    monthlyUsd: fromText(z.number().positive()).optional(),
    warnRatio: fromText(z.number().gt(0).lt(1)).optional(),
  })
  .strict()

const TrainingFile = z
  .object({
    timeout: Duration.optional(),
    lease: Duration.optional(),
    maxAttempts: fromText(z.number().int().positive()).optional(),
  })
  .strict()

const ArtifactsFile = z
  .object({
    maxSizeGb: fromText(z.number().positive()).optional(),
    allowedHosts: z.array(z.string().min(1)).optional(),
  })
  .strict()

/** Simulated time per real time of the built-in GPU cluster simulator. */
export const SimulatorSpeed = fromText(z.number().positive().max(100_000))

const SimulatorFile = z
  .object({
    speed: SimulatorSpeed.optional(),
  })
  .strict()

const Ratio = fromText(z.number().gt(0).lte(1))
const Severity = z.enum(['info', 'warning', 'critical'])

const AlertSinksFile = z
  .object({
    slack: z.object({ webhookUrl: HttpUrl, minSeverity: Severity.optional() }).strict().optional(),
    pagerduty: z
      .object({ routingKey: z.string().min(1), url: HttpUrl.optional(), minSeverity: Severity.optional() })
      .strict()
      .optional(),
    webhook: z.object({ url: HttpUrl, secret: z.string().optional(), minSeverity: Severity.optional() }).strict().optional(),
    alertmanager: z.object({ url: HttpUrl, minSeverity: Severity.optional() }).strict().optional(),
  })
  .strict()

const AlertsFile = z
  .object({
    repeatInterval: Duration.optional(),
    failureRateWarning: Ratio.optional(),
    failureRateCritical: Ratio.optional(),
    failureRateMinJobs: fromText(z.number().int().nonnegative()).optional(),
    stuckAfter: Duration.optional(),
    queueDepth: fromText(z.number().int().nonnegative()).optional(),
    queueFor: Duration.optional(),
    workerDownAfter: Duration.optional(),
    avgCostPerJob: fromText(z.number().positive()).optional(),
    costOverrunRatio: fromText(z.number().gt(1)).optional(),
    spendRatio: Ratio.optional(),
    storageRatio: Ratio.optional(),
    slowValidation: Duration.optional(),
    timeoutWindow: Duration.optional(),
    sinks: AlertSinksFile.optional(),
  })
  .strict()

export const ProfileFile = z
  .object({
    database: DatabaseFile.optional(),
    storage: StorageFile.optional(),
    clusters: z.record(z.string().regex(/^[a-z0-9][a-z0-9_-]*$/i, 'cluster names are letters, digits, - and _'), ClusterFile).optional(),
    breaker: BreakerFile.optional(),
    budget: BudgetFile.optional(),
    limits: LimitsFile.optional(),
    training: TrainingFile.optional(),
    gpuPrices: z.record(z.string(), fromText(z.number().positive())).optional(),
    artifacts: ArtifactsFile.optional(),
    alerts: AlertsFile.optional(),
    simulator: SimulatorFile.optional(),
    /** Lets keys travel over plain http to another host (a private network that has no TLS). */
    allowInsecureHttp: Bool.optional(),
  })
  .strict()

/** The shape of a .lorarc and of the user config file (YAML or JSON). */
export const ConfigFile = z
  .object({
    profile: z.string().optional(),
    profiles: z.record(z.string(), ProfileFile).optional(),
  })
  .strict()

export type ProfileValues = z.output<typeof ProfileFile>

/**
 * The environment variables that set a profile's keys, by variable. Their text goes
 * through the same schema as a file's values.
 */
export const ENV_KEYS: Readonly<Record<string, string>> = {
  DATABASE_URL: 'database.url',
  LORA_DATABASE_POOLER: 'database.pooler',
  SUPABASE_URL: 'storage.supabaseUrl',
  SUPABASE_SERVICE_ROLE_KEY: 'storage.serviceRoleKey',
  LORA_STORAGE_DIR: 'storage.dir',
  GPU_CLUSTER_API_URL: 'clusters.primary.url',
  GPU_CLUSTER_API_KEY: 'clusters.primary.apiKey',
  LORA_MONTHLY_BUDGET_USD: 'budget.monthlyUsd',
  LORA_LIMITS_TIMEZONE: 'limits.timezone',
  LORA_SIMULATOR_SPEED: 'simulator.speed',
  LORA_SLACK_WEBHOOK_URL: 'alerts.sinks.slack.webhookUrl',
  LORA_PAGERDUTY_ROUTING_KEY: 'alerts.sinks.pagerduty.routingKey',
  LORA_ALERT_WEBHOOK_URL: 'alerts.sinks.webhook.url',
  LORA_ALERT_WEBHOOK_SECRET: 'alerts.sinks.webhook.secret',
  LORA_ALERTMANAGER_URL: 'alerts.sinks.alertmanager.url',
}

/** The flags that set a profile's keys, by flag. */
export const FLAG_KEYS: Readonly<Record<string, string>> = { '--database-url': 'database.url' }

export interface ClusterConfig {
  name: string
  /** Base URL, or "simulator" for the built-in simulator run in-process. */
  url: string
  apiKey?: string
  connectTimeoutMs: number
  requestTimeoutMs: number
  fallback?: string
}

export interface BreakerConfig {
  failureThreshold: number
  windowMs: number
  cooldownMs: number
}

export type StorageConfig =
  | { kind: 'supabase'; url: string; serviceRoleKey: string; quotaBytes: number; timeoutMs?: number }
  | { kind: 'folder'; dir: string; quotaBytes: number }

export interface DatabaseConfig {
  /** A postgres:// URL, or "embedded:DIR". */
  url: string
  embedded: boolean
  /** The directory of the embedded database, when embedded. */
  dir?: string
  /** A transaction pooler: no prepared statements, no LISTEN/NOTIFY. */
  pooler: boolean
}

export type AlertSeverity = 'info' | 'warning' | 'critical'

/** The alert sinks of a profile; the log is always on and not listed. */
export interface AlertSinksConfig {
  slack?: { webhookUrl: string; minSeverity: AlertSeverity }
  pagerduty?: { routingKey: string; url: string; minSeverity: AlertSeverity }
  webhook?: { url: string; secret?: string; minSeverity: AlertSeverity }
  alertmanager?: { url: string; minSeverity: AlertSeverity }
}

/** Thresholds of the alert rules and the sinks (DESIGN section 8). Ratios are 0..1. */
export interface AlertsConfig {
  repeatIntervalMs: number
  failureRate: { warning: number; critical: number; minJobs: number }
  stuckAfterMs: number
  queueDepth: number
  queueForMs: number
  workerDownAfterMs: number
  avgCostPerJob: number
  /** A running job whose cost passes this multiple of its estimate raises cost-overrun. */
  costOverrunRatio: number
  spendRatio: number
  storageRatio: number
  slowValidationMs: number
  timeoutWindowMs: number
  sinks: AlertSinksConfig
}

/** The configuration a command runs with, after precedence and validation. */
export interface ResolvedConfig {
  profile: string
  /** True when no database was configured: everything runs on the embedded stack. */
  embedded: boolean
  /**
   * Where the embedded stack keeps its files: the nearest .lora folder with a
   * database, from the working directory upwards, or .lora in the working directory.
   */
  stateDir: string
  /** Whether that stack exists; only `db migrate`, `local start` and `demo` create one. */
  stackFound?: boolean
  database: DatabaseConfig | null
  storage: StorageConfig | null
  clusters: ClusterConfig[]
  breaker: BreakerConfig
  budget: { monthlyUsd: number; warnRatio: number }
  /** Users' monthly limits; optional for hand-built configurations (tests): read it through limitsTimezone(). */
  limits?: { timezone: string }
  training: { timeoutMs: number; leaseMs: number; maxAttempts: number }
  gpuPrices: Record<string, number>
  /** Artifact downloads: the size cap, the hosts besides the cluster's own. Defaults when absent. */
  artifacts?: { maxBytes: number; allowedHosts: string[] }
  /**
   * Alert thresholds and sinks. Optional so that hand-built configurations (tests)
   * need not spell it out: read it through alertsConfig(), which fills the defaults.
   */
  alerts?: AlertsConfig
  /** The built-in simulator (clusters whose url is "simulator"). Optional for hand-built configurations: read it through simulatorSpeed(). */
  simulator?: { speed: number }
  /** Where each value came from, by dotted key: "flag --database-url", "env DATABASE_URL", a file, "default". */
  sources: Record<string, string>
}

/** The zone of the users' monthly limits: the profile's limits.timezone, UTC by default. */
export function limitsTimezone(config: Pick<ResolvedConfig, 'limits'>): string {
  return config.limits?.timezone ?? 'UTC'
}

/** How fast the profile's built-in simulator runs. */
export function simulatorSpeed(config: Pick<ResolvedConfig, 'simulator'>): number {
  return config.simulator?.speed ?? DEFAULTS.simulatorSpeed
}

export const DEFAULTS = {
  /**
   * The local stack's simulator: a `fast` job on a small dataset (six simulated
   * minutes, mostly preparation) finishes in about a minute.
   */
  simulatorSpeed: 6,
  connectTimeoutMs: 5_000,
  requestTimeoutMs: 30_000,
  breaker: { failureThreshold: 3, windowMs: 10 * 60_000, cooldownMs: 30 * 60_000 },
  budget: { monthlyUsd: 200, warnRatio: 0.75 },
  training: { timeoutMs: 2 * 3_600_000, leaseMs: 5 * 60_000, maxAttempts: 3 },
  storageQuotaGb: 100,
  artifactMaxGb: 5,
  alerts: {
    repeatIntervalMs: 4 * 3_600_000,
    failureRate: { warning: 0.1, critical: 0.2, minJobs: 5 },
    stuckAfterMs: 2 * 3_600_000,
    queueDepth: 50,
    queueForMs: 30 * 60_000,
    workerDownAfterMs: 10 * 60_000,
    avgCostPerJob: 2.5,
    costOverrunRatio: 1.5,
    storageRatio: 0.8,
    slowValidationMs: 5 * 60_000,
    timeoutWindowMs: 24 * 3_600_000,
  },
  pagerDutyUrl: 'https://events.pagerduty.com/v2/enqueue',
  gpuPrices: { 'A100-80GB': 3.5, 'A100-40GB': 2.9, H100: 4.5, A10G: 1.1, L4: 0.8 } as Record<string, number>,
} as const

/**
 * What a daemon may download as a job's artifacts: from the cluster's own host (the
 * URL it actually uses) and the configured hosts, up to the size cap.
 */
export function artifactLimits(config: Pick<ResolvedConfig, 'artifacts'>, clusterUrls: string[]): { maxBytes: number; allowedHosts: string[] } {
  const own = clusterUrls.flatMap((u) => {
    try {
      return [new URL(u).host]
    } catch {
      return []
    }
  })
  return {
    maxBytes: config.artifacts?.maxBytes ?? DEFAULTS.artifactMaxGb * 1024 ** 3,
    allowedHosts: [...own, ...(config.artifacts?.allowedHosts ?? [])],
  }
}

/**
 * The alert settings of a configuration, defaults filled in. The spend alert fires
 * at the budget's warning ratio unless alerts.spendRatio says otherwise.
 */
export function alertsConfig(config: Pick<ResolvedConfig, 'alerts' | 'budget'>): AlertsConfig {
  if (config.alerts) return config.alerts
  const d = DEFAULTS.alerts
  return {
    repeatIntervalMs: d.repeatIntervalMs,
    failureRate: { ...d.failureRate },
    stuckAfterMs: d.stuckAfterMs,
    queueDepth: d.queueDepth,
    queueForMs: d.queueForMs,
    workerDownAfterMs: d.workerDownAfterMs,
    avgCostPerJob: d.avgCostPerJob,
    costOverrunRatio: d.costOverrunRatio,
    spendRatio: config.budget.warnRatio,
    storageRatio: d.storageRatio,
    slowValidationMs: d.slowValidationMs,
    timeoutWindowMs: d.timeoutWindowMs,
    sinks: {},
  }
}
