import { createRequire } from 'node:module'
import type { Hue, Style } from './style.js'

/** asciichart ships no type declarations: the function and the colours used, typed here. */
type AsciiChart = Record<Hue, string> & {
  plot(series: number[][], config: { height: number; offset?: number; padding?: string; colors?: string[]; format?: (x: number) => string }): string
}

let asciichart: AsciiChart | undefined
function chartLibrary(): AsciiChart {
  asciichart ??= createRequire(import.meta.url)('asciichart') as AsciiChart
  return asciichart
}

export interface Series {
  label: string
  /** One value per x; null where the series has no value (validation between evaluations). */
  values: (number | null)[]
  /** Its colour, by the name the legend paints it with too. */
  color: Hue
}

/** Evenly spaced indices of n values, first and last included, at most `width` of them. */
export function sampleIndices(n: number, width: number): number[] {
  if (n <= width) return Array.from({ length: n }, (_, i) => i)
  return Array.from({ length: width }, (_, i) => Math.round((i * (n - 1)) / (width - 1)))
}

/**
 * Line charts with asciichart, fitted to the width. The first series is the base:
 * drawn last, on top. asciichart cannot leave gaps, so another series takes the base's
 * value where it has none yet (hidden under the base line) and then holds its last
 * value: a validation curve branches off the training curve where it starts, and
 * steps from one evaluation to the next.
 */
export function lineChart(series: Series[], options: { width: number; height: number; style: Style }): string[] {
  const base = series[0]
  if (!base) return []
  const labelWidth = 8
  const width = Math.max(10, options.width - labelWidth - 3)
  const n = Math.max(...series.map((s) => s.values.length))
  const indices = sampleIndices(n, width)
  const baseValues = fillForward(indices.map((i) => base.values[i] ?? null))
  if (baseValues.filter((v) => v !== null).length < 2) return []
  const drawn: { values: number[]; color: Hue }[] = []
  for (const other of series.slice(1)) {
    const sampled = fillForward(indices.map((i) => other.values[i] ?? null))
    if (!sampled.some((v) => v !== null)) continue
    drawn.push({ values: sampled.map((v, i) => v ?? baseValues[i] ?? 0), color: other.color })
  }
  const firstBase = baseValues.find((v) => v !== null)!
  drawn.push({ values: baseValues.map((v) => v ?? firstBase), color: base.color })
  const plot = chartLibrary().plot(
    drawn.map((d) => d.values),
    {
      height: options.height,
      offset: 2,
      padding: ' '.repeat(labelWidth),
      format: (x) => `${x.toFixed(3).padStart(labelWidth)} `,
      ...(options.style.enabled ? { colors: drawn.map((d) => chartLibrary()[d.color]) } : {}),
    },
  )
  return plot.split('\n').map((line) => line.replace(/\s+$/, ''))
}

function fillForward(values: (number | null)[]): (number | null)[] {
  let last: number | null = null
  return values.map((v) => {
    if (v !== null && Number.isFinite(v)) last = v
    return last
  })
}
