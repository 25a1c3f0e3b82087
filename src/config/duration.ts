const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
  mo: 30 * 86_400_000,
}

/**
 * Parses "500ms", "30s", "10m", "2h", "7d", "2w", "6mo" (and combinations such as
 * "1h30m") to milliseconds. Returns null for anything else.
 */
export function parseDuration(text: string): number | null {
  const trimmed = text.trim()
  if (!/^(\d+(\.\d+)?(ms|mo|s|m|h|d|w))+$/.test(trimmed)) return null
  let total = 0
  for (const [, value, unit] of trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|mo|s|m|h|d|w)/g)) {
    total += Number(value) * UNITS[unit!]!
  }
  return Math.round(total)
}

/** Formats milliseconds the way parseDuration reads them: 90000 -> "1m30s". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`
  const parts: string[] = []
  let rest = Math.round(ms / 1000)
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`)
      rest %= size
    }
  }
  return parts.join('')
}
