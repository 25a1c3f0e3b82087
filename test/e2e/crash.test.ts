import { afterEach, describe, expect, it } from 'vitest'
import { cpSync, readdirSync, rmSync, symlinkSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { BIN, runLora, tempDir } from '../helpers/cli.js'

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

  it('exits 1 with one sentence when its own code cannot be loaded (a chunk missing), instead of retrying forever', async () => {
    const dir = tempDir('lora-crash-')
    dirs.push(dir)
    // An installed copy of lora whose command-line chunk is gone, as a broken install would be.
    const root = dirname(dirname(BIN))
    for (const part of ['bin', 'dist']) cpSync(join(root, part), join(dir.path, part), { recursive: true })
    symlinkSync(join(root, 'node_modules'), join(dir.path, 'node_modules'))
    const chunks = join(dir.path, 'dist', 'chunks')
    const cli = readdirSync(chunks).filter((f) => /^cli-\w+\.js$/.test(f))
    expect(cli).toHaveLength(1)
    rmSync(join(chunks, cli[0]!))
    // The module entry: the startup snapshot holds the program whole, and loads no chunk.
    const r = await runLora(['jobs', 'list'], { cwd: dir.path, bin: join(dir.path, 'bin', 'lora'), env: { LORA_NO_SNAPSHOT: '1' }, timeoutMs: 5_000 })
    expect(r).toEqual({ code: 1, stdout: '', stderr: 'error: lora could not load its own code (a file of its install is missing or unreadable); reinstall it.\n' })
  })
})
