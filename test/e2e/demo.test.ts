import { describe, expect, it } from 'vitest'
import { existsSync } from 'node:fs'
import { runLora, tempDir } from '../helpers/cli.js'

describe('lora demo (the built binary, the whole embedded stack)', () => {
  it('tours the platform and shows every state it claims: rejected upload, completed, cancelled, failed, an outage with its alert', async () => {
    const dir = tempDir('lora-e2e-demo-')
    try {
      // Fast enough for a test, slow enough that the job to cancel is still running when it is cancelled.
      const r = await runLora(['demo', '--speed', '100', '--interval', '200ms'], { cwd: dir.path, timeoutMs: 170_000 })
      expect(r.code, r.stderr.slice(-3000)).toBe(0)
      const folder = /the platform on the embedded stack in (\S+)/.exec(r.stderr)![1]!
      // The malformed dataset is refused with its line numbers.
      expect(r.stderr).toContain('broken.jsonl is not a valid dataset: 4 problems; nothing was uploaded.')
      expect(r.stderr).toContain('line 3: message 2 has role "robot"')
      // The watched job completes; the cancelled one and the failed one say so.
      expect(r.stderr).toMatch(/Job [0-9a-f-]{36} completed; final cost \$\d+\.\d\d\./)
      const list = r.stdout
      expect(list).toMatch(/\tcancelled\t/)
      expect(list).toMatch(/\tfailed\t/)
      expect(list).toMatch(/\tcompleted\t/)
      // The outage: the breaker opens, queued jobs say why, health fails the gate, the alert fires.
      expect(list).toMatch(/primary\tsimulator \(http:\/\/127\.0\.0\.1:\d+\)\tno\t\topen\t3\t/)
      expect(list).toMatch(/\tqueued\t.*cluster primary's breaker is open until/)
      expect(r.stderr).toMatch(/health: critical \(.*\); exit 1 with --fail-on critical/)
      expect(list).toMatch(/firing\tcritical\tbreaker-open\tprimary\t/)
      expect(list).toContain('breaker of primary reset: open -> closed')
      // What it injects says so: the failed job, the outage.
      expect(r.stderr).toContain('# injected failure: the simulator fails the next job it is given')
      expect(list).toMatch(/\tfailed\t[^\n]*\tinjected failure: [^\n]+\n/)
      expect(list).toMatch(/\terror at step \d+\/\d+: injected failure: /)
      expect(r.stderr).toContain('# injected failure: the simulator answers every call with 503 (Retry-After: 1) from now on')
      // Simulated time is labelled on the screens that show it.
      expect(r.stderr).toContain('the GPU cluster simulator runs at 100x (simulated time per real time)')
      // The temporary folder is gone, and no screen pointed to the log inside it.
      expect(existsSync(folder)).toBe(false)
      expect(r.stdout + r.stderr).not.toContain('daemon.log')
      expect(r.stderr).toContain('(removed at the end; --keep keeps it)')
    } finally {
      dir.remove()
    }
  }, 180_000)
})
