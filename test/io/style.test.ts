import { describe, expect, it } from 'vitest'
import { createTestIO } from '../../src/io/streams.js'
import { main } from '../../src/cli.js'

describe('the colour scheme', () => {
  it('paints on a terminal, by name, and each style closes only what it opened', () => {
    const { io } = createTestIO({ tty: true })
    expect(io.style.enabled).toBe(true)
    expect(io.style.ok('ok')).toBe('\x1b[32mok\x1b[39m')
    expect(io.style.warn('warn')).toBe('\x1b[33mwarn\x1b[39m')
    expect(io.style.fail('fail')).toBe('\x1b[31mfail\x1b[39m')
    expect(io.style.dim('dim')).toBe('\x1b[2mdim\x1b[22m')
    expect(io.style.bold('bold')).toBe('\x1b[1mbold\x1b[22m')
    expect(io.style.done('done')).toBe('\x1b[1m\x1b[32mdone\x1b[39m\x1b[22m')
    expect(io.style.hue('blue', '━━')).toBe('\x1b[34m━━\x1b[39m')
  })

  it('is plain when piped, under NO_COLOR, with --no-color and on TERM=dumb', () => {
    const cases = [
      createTestIO({ tty: false }).io,
      createTestIO({ tty: true, env: { NO_COLOR: '' } }).io,
      createTestIO({ tty: true, env: { TERM: 'dumb' } }).io,
    ]
    for (const io of cases) {
      expect(io.style.enabled).toBe(false)
      expect(io.errStyle.enabled).toBe(false)
      expect(io.style.fail('x') + io.errStyle.warn('y')).toBe('xy')
    }
  })

  it('colours the error prefix on a terminal, and not with --no-color given to main', async () => {
    const run = async (argv: string[]) => {
      let stderr = ''
      const tty = { write: (c: string) => (stderr += c), isTTY: true }
      const code = await main(argv, { env: {}, stdout: tty, stderr: tty, stdin: { isTTY: false }, cwd: '/nonexistent', signal: new AbortController().signal })
      return { code, stderr }
    }
    expect(await run(['jobs', 'list', '--limit', 'x'])).toEqual({ code: 2, stderr: '\x1b[31merror\x1b[39m: Invalid --limit: must be an integer from 1 to 10000 (got "x").\n' })
    expect(await run(['--no-color', 'jobs', 'list', '--limit', 'x'])).toEqual({ code: 2, stderr: 'error: Invalid --limit: must be an integer from 1 to 10000 (got "x").\n' })
  })
})

describe('standard input', () => {
  it('is opened only when a prompt is possible: never with output piped', async () => {
    const run = async (stdoutIsTTY: boolean) => {
      let reads = 0
      const out = { write: () => true, isTTY: stdoutIsTTY }
      const deps = {
        env: {},
        stdout: out,
        stderr: out,
        get stdin() {
          reads += 1
          return { isTTY: true }
        },
        cwd: '/nonexistent',
        signal: new AbortController().signal,
      }
      const code = await main(['jobs', 'list', '--limit', 'x'], deps)
      return { code, reads }
    }
    expect(await run(false)).toEqual({ code: 2, reads: 0 })
    expect(await run(true)).toEqual({ code: 2, reads: 1 })
  })
})
