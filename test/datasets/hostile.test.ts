import { afterAll, describe, expect, it } from 'vitest'
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { validateFile } from '../../src/datasets/validator.js'
import { MAX_NESTING } from '../../src/datasets/formats.js'
import type { LoraError } from '../../src/errors.js'
import { runLora } from '../helpers/cli.js'

const dir = mkdtempSync(join(tmpdir(), 'lora-hostile-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let n = 0
function file(content: string): string {
  const path = join(dir, `f${n++}.jsonl`)
  writeFileSync(path, content)
  return path
}
const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth)
const GOOD = JSON.stringify({ prompt: 'a', completion: 'b' })
const HEAVY = `[${'{"a":[1,2]},'.repeat(400_000)}1]\n`

describe('hostile input to the validator', () => {
  for (const threads of [0, 1]) {
    it(`reports a line nested deeper than ${MAX_NESTING} levels as an error on that line, before parsing it (${threads ? 'a worker' : 'this thread'})`, async () => {
      // Brackets inside strings are text, not nesting.
      const bracketsInText = JSON.stringify({ prompt: '['.repeat(500) + '{'.repeat(500), completion: 'ok' })
      const content = [GOOD, nested(MAX_NESTING + 1), bracketsInText, nested(200_000), `{"prompt": ${nested(10)}, "completion": "x"}`].join('\n') + '\n'
      const report = await validateFile(file(content), { threads })
      expect(report.valid).toBe(false)
      expect(report.errors).toEqual([
        { line: 2, kind: 'nested_too_deep', message: `is nested deeper than ${MAX_NESTING} levels: no training record is (is this JSONL?)` },
        { line: 4, kind: 'nested_too_deep', message: `is nested deeper than ${MAX_NESTING} levels: no training record is (is this JSONL?)` },
        expect.objectContaining({ line: 5, kind: 'not_string' }),
      ])
      expect(report.records).toBe(2)
    })
  }

  for (const threads of [0, 1]) {
    it(`judges a line longer than one read on its start: nested too deep, it is reported and skipped, not held whole (${threads ? 'a worker' : 'this thread'})`, async () => {
      // Reads of 4 KB: every line below but the good ones spans several.
      const textBrackets = JSON.stringify({ prompt: '['.repeat(20_000), completion: '{'.repeat(20_000) })
      const lines = [GOOD, nested(100_000), textBrackets, `${GOOD}\n${nested(40_000)}`, nested(MAX_NESTING), GOOD]
      const report = await validateFile(file(lines.join('\n') + '\n'), { threads, batchBytes: 4096 })
      expect(report.errors).toEqual([
        { line: 2, kind: 'nested_too_deep', message: `is nested deeper than ${MAX_NESTING} levels: no training record is (is this JSONL?)` },
        { line: 5, kind: 'nested_too_deep', message: `is nested deeper than ${MAX_NESTING} levels: no training record is (is this JSONL?)` },
        expect.objectContaining({ line: 6, kind: 'not_object' }),
      ])
      expect(report).toMatchObject({ lines: 7, records: 4, error_count: 3 })
    })
  }

  it(`takes a line nested exactly ${MAX_NESTING} levels to the parser, which says what it is`, async () => {
    const report = await validateFile(file(`${GOOD}\n${nested(MAX_NESTING)}\n`))
    expect(report.errors).toEqual([expect.objectContaining({ line: 2, kind: 'not_object' })])
  })

  it('stops a worker that runs out of its memory and says so in one sentence', async () => {
    // Lines of 400,000 objects each: tens of MB once parsed, over a 16 MB worker.
    const big = file(`${GOOD}\n${HEAVY}${HEAVY}${HEAVY}${HEAVY}`)
    const error = (await validateFile(big, { threads: 1, workerMemoryMb: 16 }).catch((e: unknown) => e)) as LoraError
    expect(error.code).toBe('validation_worker_failed')
    expect(error.message).toBe('A validation worker ran out of memory (16 MB): the file could not be checked.')
    expect(error.exitCode).toBe(1)
  })
})

describe('hostile input to `lora datasets upload` (the built binary)', () => {
  it('exits 1 with one sentence when a validation worker runs out of memory, never a stack', async () => {
    const big = file(`${GOOD}\n${HEAVY}${HEAVY}${HEAVY}${HEAVY}`)
    const r = await runLora(['datasets', 'upload', '--dry-run', big], { cwd: dir, env: { LORA_VALIDATE_THREADS: '1', LORA_VALIDATE_MEMORY_MB: '16' } })
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('error: A validation worker ran out of memory (16 MB): the file could not be checked.\n')
    expect(r.stderr).not.toMatch(/\n\s+at /)
    expect(r.stderr).not.toContain('FATAL')
  })

  // Lines of 1 MB, and of 30 MB (near the 32 MB cap): a deep line is skipped on its
  // start, never held whole.
  it.each([1, 30])('validates a 133 MB file of deeply nested arrays in lines of %i MB within 150 MB of memory (peak RSS)', async (lineMb) => {
    const path = join(dir, `nested-${lineMb}.jsonl`)
    const fd = openSync(path, 'w')
    // 133 MB in all: whole lines, then one shorter for the rest.
    const sizes = Array.from({ length: Math.floor(133 / lineMb) }, () => lineMb)
    if (133 % lineMb) sizes.push(133 % lineMb)
    for (const mb of sizes) writeSync(fd, `${nested(mb * 512 * 1024)}\n`)
    closeSync(fd)
    const count = sizes.length
    const rssFile = join(dir, `rss-${lineMb}`)
    // A module preloaded into the binary writes its peak memory when it exits: the
    // kernel's high-water mark of this program's own memory (VmHWM). Not the maxRSS
    // of getrusage, which Linux carries over from the process that forked it (here
    // the test runner's worker, hundreds of MB).
    const preload = `import { readFileSync, writeFileSync } from 'node:fs'; process.on('exit', () => writeFileSync(${JSON.stringify(rssFile)}, /VmHWM:\\s*(\\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))[1]))`
    const r = await runLora(['datasets', 'upload', '--dry-run', '--json', path], {
      cwd: dir,
      env: { NODE_OPTIONS: `--import=data:text/javascript,${encodeURIComponent(preload)}` },
      timeoutMs: 120_000,
    })
    expect(r.code).toBe(1)
    const out = JSON.parse(r.stdout) as { validation: { error_count: number; errors: { kind: string }[] } }
    expect(out.validation.error_count).toBe(count)
    expect(out.validation.errors.every((e) => e.kind === 'nested_too_deep')).toBe(true)
    const maxRssKb = Number(readFileSync(rssFile, 'utf8'))
    expect(maxRssKb).toBeLessThan(150 * 1024)
  }, 150_000)
})
