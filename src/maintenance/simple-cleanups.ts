import type { Context } from '../context.js'
import { countOldReadNotifications, deleteOldReadNotifications, findArchivalCandidates, type ArchivalCandidate } from '../db/queries/maintenance.js'

const NOTIFICATION_BATCH = 1000

/** Read notifications older than the cut-off, deleted in batches. Returns the count. */
export async function cleanNotifications(ctx: Context, cutoff: Date, dryRun: boolean): Promise<number> {
  const db = await ctx.db()
  if (dryRun) return countOldReadNotifications(db, cutoff)
  let total = 0
  for (;;) {
    const deleted = await deleteOldReadNotifications(db, cutoff, NOTIFICATION_BATCH)
    total += deleted
    if (deleted < NOTIFICATION_BATCH || ctx.signal.aborted) return total
  }
}

/** Supabase Storage's price per GB-month, for the archival estimate. */
export const STORAGE_USD_PER_GB_MONTH = 0.021

export interface ArchivalReview {
  candidates: (ArchivalCandidate & { monthly_cost_usd: number })[]
  total_bytes: number
  total_monthly_cost_usd: number
}

/** Artifacts unused for the period, with their size and storage cost: report only. */
export async function reviewArchival(ctx: Context, unusedSince: Date): Promise<ArchivalReview> {
  const rows = await findArchivalCandidates(await ctx.db(), unusedSince)
  const candidates = rows.map((r) => ({ ...r, monthly_cost_usd: round4((r.size_bytes / 1024 ** 3) * STORAGE_USD_PER_GB_MONTH) }))
  const total = rows.reduce((sum, r) => sum + r.size_bytes, 0)
  return { candidates, total_bytes: total, total_monthly_cost_usd: round4((total / 1024 ** 3) * STORAGE_USD_PER_GB_MONTH) }
}

function round4(n: number): number {
  return Math.round(n * 10_000) / 10_000
}
