import { afterEach, describe, expect, it } from 'vitest'
import { daemonHarness, type DaemonHarness } from '../helpers/daemon.js'
import { PRIMARY } from '../jobs/fixtures.js'
import { runCycle } from '../../src/daemon/cycle.js'
import { readJob } from '../../src/db/queries/job-views.js'
import { etaSeconds } from '../../src/jobs/format.js'
import { PRESETS } from '../../src/jobs/presets.js'

const OPTIONS = { batch: 10, concurrency: 8, pollLimit: 1000 }
const SPEED = 60

/** How far `value` is from `expected`, as a share of it. */
const off = (value: number, expected: number) => Math.abs(value / expected - 1)

describe.skipIf(!PRIMARY.available)(`honest time on the simulator: the estimate, the live ETA and the billed time agree (${PRIMARY.name})`, () => {
  let h: DaemonHarness | undefined
  afterEach(async () => {
    await h?.close()
    h = undefined
  })

  for (const preset of Object.keys(PRESETS) as (keyof typeof PRESETS)[]) {
    it(`${preset}: the run bills its estimate within 20 %, and the ETA mid-training foretells its end within 20 %`, async () => {
      h = await daemonHarness(PRIMARY, { simulator: { speed: SPEED } })
      const [id] = await h.submit(1, preset)
      const env = await h.env()
      const submitted = (await readJob(h.db, id!))!
      const estimateSeconds = submitted.estimated_duration_hours! * 3600
      const gpus = Number(submitted.gpu_config.num_gpus)
      // Mid-training: what the run's whole length looks like, elapsed time plus ETA, in simulated seconds.
      const foretold: number[] = []
      let job = submitted
      for (let cycle = 0; cycle < 200 && !['completed', 'failed', 'cancelled'].includes(job.status); cycle++) {
        await runCycle(env, OPTIONS)
        job = (await readJob(h.db, id!))!
        const eta = etaSeconds(job, h.clock.now())
        if (job.status === 'running' && job.progress >= 10 && job.progress <= 90 && eta !== null) {
          foretold.push(((h.clock.now().getTime() - job.started_at!.getTime()) / 1000 + eta) * SPEED)
        }
        // Half a second of real time: 30 simulated seconds between two polls.
        h.clock.advance(500)
      }
      expect(job.status).toBe('completed')
      // The billed time is simulated time: all GPUs together, so per GPU it is the run's length.
      expect(off(job.billed_gpu_seconds! / gpus, estimateSeconds)).toBeLessThan(0.2)
      expect(off(job.final_cost!, job.estimated_total_cost!)).toBeLessThan(0.2)
      expect(foretold.length).toBeGreaterThanOrEqual(3)
      for (const total of foretold) expect(off(total, estimateSeconds)).toBeLessThan(0.2)
    })
  }
})
