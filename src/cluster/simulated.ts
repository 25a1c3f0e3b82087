import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { formatDuration } from '../config/duration.js'
import { simulatorSpeed, type ResolvedConfig } from '../config/schema.js'
import { pidAlive } from '../lockfile.js'

/**
 * Whether a cluster's time is simulated, and how fast: the built-in simulator (a
 * cluster whose url is "simulator") runs at the speed of the stack's local service
 * when one serves it, at the profile's simulator.speed otherwise. Light on purpose:
 * the views that label simulated time read it without opening any cluster.
 */

/** What a running local service says of its simulator in the stack's local.json. */
export async function localSimulator(stateDir: string): Promise<{ url: string; speed: number | null } | null> {
  try {
    const info = JSON.parse(await readFile(join(stateDir, 'local.json'), 'utf8')) as { pid: number; simulator?: string; simulatorSpeed?: number }
    if (!info.simulator || !pidAlive(info.pid)) return null
    return { url: info.simulator, speed: typeof info.simulatorSpeed === 'number' ? info.simulatorSpeed : null }
  } catch {
    return null
  }
}

/** The speed the named cluster's time runs at when it is the built-in simulator; null for a real cluster. */
export async function simulatedSpeed(config: ResolvedConfig, clusterName: string | null): Promise<number | null> {
  const cluster = config.clusters.find((c) => c.name === clusterName)
  if (cluster?.url !== 'simulator') return null
  return (await localSimulator(config.stateDir))?.speed ?? simulatorSpeed(config)
}

/** The speed of the profile's clusters when every one of them is the built-in simulator (where a new job runs), else null. */
export async function profileSimulatedSpeed(config: ResolvedConfig): Promise<number | null> {
  const [first] = config.clusters
  if (!first || config.clusters.some((c) => c.url !== 'simulator')) return null
  return simulatedSpeed(config, first.name)
}

/** The label of simulated time: "(simulated at 6x)". */
export function simulatedNote(speed: number | null): string {
  return speed === null ? '' : ` (simulated at ${speed}x)`
}

/** An estimate of simulated hours with what it takes in real time: " (simulated at 6x: about 1m10s)". */
export function simulatedHoursNote(hours: number, speed: number | null): string {
  if (speed === null) return ''
  return ` (simulated at ${speed}x: about ${formatDuration(Math.max(1, Math.round((hours * 3600) / speed)) * 1000)})`
}
