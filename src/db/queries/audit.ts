import { hostname, userInfo } from 'node:os'
import type { Queryable } from '../types.js'

export interface AuditEntry {
  action: string
  target?: string
  count?: number
  dryRun?: boolean
  details?: Record<string, unknown>
}

/** Who ran a destructive operation: the OS user and host (LORA_ACTOR overrides). */
export function actorName(env: Record<string, string | undefined>): string {
  if (env.LORA_ACTOR) return env.LORA_ACTOR
  let user = 'unknown'
  try {
    user = userInfo().username
  } catch {
    // A container user without a passwd entry.
  }
  return `${user}@${hostname()}`
}

export async function recordAudit(q: Queryable, actor: string, entry: AuditEntry, now: Date): Promise<void> {
  await q.query(
    `INSERT INTO lora_ops.audit_log (actor, action, target, count, dry_run, details, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [actor, entry.action, entry.target ?? null, entry.count ?? 0, entry.dryRun ?? false, entry.details ?? {}, now],
  )
}
