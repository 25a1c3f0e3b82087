import { describe, expect, it } from 'vitest'
import { createTestIO } from '../../src/io/streams.js'
import { FakeClock } from '../../src/clock.js'
import { byteProgress, formatBytes } from '../../src/datasets/progress.js'

const MB = 1024 * 1024

describe('the byte progress bar', () => {
  it('draws bytes, rate and time left on a terminal, at most ten times a second, and clears itself', () => {
    const t = createTestIO({ tty: true, env: { NO_COLOR: '1' } })
    const clock = new FakeClock()
    const bar = byteProgress(t.io, clock, 'uploading data.jsonl')
    bar.update(0, 100 * MB)
    clock.advance(2_000)
    bar.update(25 * MB, 100 * MB)
    clock.advance(50)
    bar.update(26 * MB, 100 * MB) // too soon: not drawn
    clock.advance(2_000)
    bar.update(50 * MB, 100 * MB)
    bar.done()
    const frames = t.stderr().split('\r\x1b[K').filter(Boolean)
    expect(frames).toEqual([
      `uploading data.jsonl ${'░'.repeat(24)} 0%  0 B / 100.0 MB  0 B/s  ETA ?`,
      `uploading data.jsonl ${'█'.repeat(6)}${'░'.repeat(18)} 25%  25.0 MB / 100.0 MB  12.5 MB/s  ETA 6s`,
      `uploading data.jsonl ${'█'.repeat(12)}${'░'.repeat(12)} 50%  50.0 MB / 100.0 MB  12.3 MB/s  ETA 4s`,
    ])
    expect(t.stderr().endsWith('\r\x1b[K')).toBe(true)
    expect(t.stdout()).toBe('')
  })

  it('measures the rate of a resumed upload from where it resumed', () => {
    const t = createTestIO({ tty: true })
    const clock = new FakeClock()
    const bar = byteProgress(t.io, clock, 'up')
    bar.update(90 * MB, 100 * MB)
    clock.advance(1_000)
    bar.update(95 * MB, 100 * MB)
    expect(t.stderr()).toContain('95%  95.0 MB / 100.0 MB  5.0 MB/s  ETA 1s')
  })

  it('prints nothing for short work when piped, and plain lines now and then for long work', () => {
    const quick = createTestIO()
    const clock = new FakeClock()
    const a = byteProgress(quick.io, clock, 'validating a.jsonl')
    a.update(1, 2)
    a.update(2, 2)
    a.done()
    expect(quick.stderr()).toBe('')

    const slow = createTestIO()
    const b = byteProgress(slow.io, clock, 'uploading big.jsonl')
    for (let i = 0; i <= 100; i++) {
      b.update(i * 10 * MB, 1000 * MB)
      clock.advance(1_000)
    }
    b.done()
    const lines = slow.stderr().trim().split('\n')
    expect(lines[0]).toBe('uploading big.jsonl: 10%  100.0 MB / 1000.0 MB  10.0 MB/s  ETA 1m30s')
    expect(lines.at(-1)).toBe('uploading big.jsonl: 100%  1000.0 MB / 1000.0 MB  9.9 MB/s  ETA 0s')
    expect(lines.length).toBe(10)
  })

  it('formats sizes', () => {
    expect([formatBytes(0), formatBytes(1023), formatBytes(1536), formatBytes(5 * MB), formatBytes(3 * 1024 * MB)]).toEqual(['0 B', '1023 B', '1.5 KB', '5.0 MB', '3.0 GB'])
  })
})
