import { afterEach, describe, expect, it } from 'vitest'
import { runLora, tempDir } from '../helpers/cli.js'

/**
 * A failure that no code awaits reaches the process's last handler. It is simulated
 * by a module preloaded into the built binary (NODE_OPTIONS=--import) that throws from
 * a timer while `lora cluster simulate` runs; nothing in lora's code is changed for it.
 */
function preload(js: string): Record<string, string> {
  return { NODE_OPTIONS: `--import=data:text/javascript,${encodeURIComponent(js)}` }
}

describe('a crash outside any command (the built binary)', () => {
  const dirs: { remove(): void }[] = []
  afterEach(() => {
    for (const d of dirs.splice(0)) d.remove()
  })

  for (const [kind, js] of [
    ['an uncaught exception', 'setTimeout(()=>{throw new Error("lost connection to postgres://lora:Secr3t-Pw@db.example.com/postgres")},1500)'],
    ['an unhandled rejection', 'setTimeout(()=>{Promise.reject(new Error("lost connection to postgres://lora:Secr3t-Pw@db.example.com/postgres"))},1500)'],
  ] as const) {
    it(`prints ${kind} as one redacted sentence and exits 1, no stack`, async () => {
      const dir = tempDir('lora-crash-')
      dirs.push(dir)
      const r = await runLora(['cluster', 'simulate', '--port', '0'], { cwd: dir.path, env: preload(js), timeoutMs: 30_000 })
      expect(r.code).toBe(1)
      expect(r.stderr).toContain('error: unexpected failure: lost connection to postgres://lora:***@db.example.com/postgres\n')
      expect(r.stderr).not.toContain('Secr3t-Pw')
      expect(r.stderr).not.toMatch(/\n\s+at /)
    })
  }
})
