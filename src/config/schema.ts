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

const ClusterFile = z
  .object({
    url: z.string().min(1).describe('base URL of the GPU cluster API, or "simulator"'),
    apiKey: z.string().optional(),
    connectTimeout: Duration.optional(),
    requestTimeout: Duration.optional(),
    fallback: z.string().optional(),
  })
  .strict()

const BreakerFile = z
  .object({
    failures: z.number().int().positive().optional(),
    window: Duration.optional(),
    cooldown: Duration.optional(),
  })
  .strict()

const DatabaseFile = z
  .object({
    url: z.string().min(1).optional(),
    pooler: z.boolean().optional(),
  })
  .strict()

const StorageFile = z
  .object({
    supabaseUrl: z.string().url().optional(),
    serviceRoleKey: z.string().optional(),
    dir: z.string().optional(),
    quotaGb: z.number().positive().optional(),
  })
  .strict()

const BudgetFile = z
  .object({
    monthlyUsd: z.number().positive().optional(),
    warnRatio: z.number().gt(0).lt(1).optional(),
  })
  .strict()

const TrainingFile = z
  .object({
    timeout: Duration.optional(),
    lease: Duration.optional(),
    maxAttempts: z.number().int().positive().optional(),
  })
  .strict()

export const ProfileFile = z
  .object({
    database: DatabaseFile.optional(),
    storage: StorageFile.optional(),
    clusters: z.record(z.string().regex(/^[a-z0-9][a-z0-9_-]*$/i, 'cluster names are letters, digits, - and _'), ClusterFile).optional(),
    breaker: BreakerFile.optional(),
    budget: BudgetFile.optional(),
    training: TrainingFile.optional(),
    gpuPrices: z.record(z.string(), z.number().positive()).optional(),
  })
  .strict()

/** The shape of a .lorarc and of the user config file (YAML or JSON). */
export const ConfigFile = z
  .object({
    profile: z.string().optional(),
    profiles: z.record(z.string(), ProfileFile).optional(),
  })
  .strict()

export type ConfigFileShape = z.input<typeof ConfigFile>
export type ProfileFileShape = z.input<typeof ProfileFile>

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
  | { kind: 'supabase'; url: string; serviceRoleKey: string; quotaBytes: number }
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

/** The configuration a command runs with, after precedence and validation. */
export interface ResolvedConfig {
  profile: string
  /** True when no database was configured: everything runs on the embedded stack. */
  embedded: boolean
  /** Where the embedded stack keeps its files (.lora in the working directory). */
  stateDir: string
  database: DatabaseConfig | null
  storage: StorageConfig | null
  clusters: ClusterConfig[]
  breaker: BreakerConfig
  budget: { monthlyUsd: number; warnRatio: number }
  training: { timeoutMs: number; leaseMs: number; maxAttempts: number }
  gpuPrices: Record<string, number>
  /** Where each value came from, by dotted key: "flag --database-url", "env DATABASE_URL", a file, "default". */
  sources: Record<string, string>
}

export const DEFAULTS = {
  connectTimeoutMs: 5_000,
  requestTimeoutMs: 30_000,
  breaker: { failureThreshold: 3, windowMs: 10 * 60_000, cooldownMs: 30 * 60_000 },
  budget: { monthlyUsd: 200, warnRatio: 0.75 },
  training: { timeoutMs: 2 * 3_600_000, leaseMs: 5 * 60_000, maxAttempts: 3 },
  storageQuotaGb: 100,
  gpuPrices: { 'A100-80GB': 3.5, 'A100-40GB': 2.9, H100: 4.5, A10G: 1.1, L4: 0.8 } as Record<string, number>,
} as const
