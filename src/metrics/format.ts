/** Formatting of numbers shared by every command: money, percentages, sizes, durations. */

export const GB = 1024 ** 3

/** 12.5 -> "$12.50"; nothing known -> "-". */
export function money(usd: number | null | undefined): string {
  if (usd === null || usd === undefined || !Number.isFinite(usd)) return '-'
  return `$${usd.toFixed(2)}`
}

/** 12.345 -> "12.3 %" (a value already in percent). */
export function percent(value: number | null | undefined, digits = 1): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '-'
  return `${value.toFixed(digits)} %`
}

export function gigabytes(bytes: number | null | undefined, digits = 2): string {
  if (bytes === null || bytes === undefined) return '-'
  return `${(bytes / GB).toFixed(digits)} GB`
}

/** 90 -> "1 h 30 min"; 4.5 -> "4.5 min"; for messages. */
export function minutes(value: number): string {
  if (value < 60) return `${Number(value.toFixed(1))} min`
  const h = Math.floor(value / 60)
  const m = Math.round(value - h * 60)
  return m ? `${h} h ${m} min` : `${h} h`
}

/** Rounds for --json: numbers stay numbers, without float noise. */
export function round(value: number | null | undefined, digits = 2): number | null {
  if (value === null || value === undefined || !Number.isFinite(value)) return null
  const f = 10 ** digits
  return Math.round(value * f) / f
}
