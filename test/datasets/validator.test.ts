import { afterAll, describe, expect, it } from 'vitest'
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { validateFile } from '../../src/datasets/validator.js'
import { UsageError } from '../../src/errors.js'

const dir = mkdtempSync(join(tmpdir(), 'lora-validator-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let n = 0
function file(content: string | Buffer): string {
  const path = join(dir, `f${n++}.jsonl`)
  writeFileSync(path, content)
  return path
}
const lines = (...records: unknown[]) => records.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n') + '\n'
const chat = (...turns: [string, string][]) => ({ messages: turns.map(([role, content]) => ({ role, content })) })
const GOOD_CHAT = chat(['system', 'be brief'], ['user', 'hi'], ['assistant', 'hello'])

describe('the streaming validator', () => {
  it('accepts a valid chat file and counts records, pairs, tokens, bytes and sha256', async () => {
    const content = lines(GOOD_CHAT, chat(['user', 'a?'], ['assistant', 'b'], ['user', 'c?'], ['assistant', 'd']))
    const report = await validateFile(file(content))
    expect(report).toMatchObject({
      valid: true,
      format: 'chat',
      format_source: 'detected',
      bytes: Buffer.byteLength(content),
      sha256: createHash('sha256').update(content).digest('hex'),
      lines: 2,
      records: 2,
      training_pairs: 3,
      line_endings: 'lf',
      bom: false,
      error_count: 0,
      errors: [],
      threads: 0,
    })
    // "be brief" + "hi" + "hello" = 15 characters -> 4 tokens; "a?b" "c?d" = 6 -> 2.
    expect(report.token_estimate).toBe(6)
  })

  it('accepts completion and instruction files, input optional and possibly empty', async () => {
    const completion = await validateFile(file(lines({ prompt: 'p', completion: 'c' }, { prompt: 'q', completion: 'd' })))
    expect(completion).toMatchObject({ valid: true, format: 'completion', records: 2, training_pairs: 2 })
    const instruction = await validateFile(file(lines({ instruction: 'i', output: 'o' }, { instruction: 'i', input: '', output: 'o' })))
    expect(instruction).toMatchObject({ valid: true, format: 'instruction', records: 2, training_pairs: 2 })
  })

  it('names every kind of record error with its line', async () => {
    const report = await validateFile(
      file(
        lines(
          GOOD_CHAT, // 1
          '{"messages": [', // 2 invalid JSON
          '[1, 2]', // 3 not an object
          { text: 'hello' }, // 4 unknown format
          { messages: [], prompt: 'x' }, // 5 mixed formats
          { messages: [{ role: 'user', content: 'x' }], extra: 1 }, // 6 unknown field
          { messages: 'hi' }, // 7 messages not an array
          { messages: [] }, // 8 empty messages
          { messages: ['hi'] }, // 9 message not an object
          { messages: [{ role: 'user' }] }, // 10 message misses content
          { messages: [{ role: 'user', content: 'x', name: 'bob' }] }, // 11 unknown message field
          chat(['bot', 'x']), // 12 invalid role
          chat(['user', 'x'], ['user', 'y']), // 13 role order: user twice
          chat(['assistant', 'x']), // 14 assistant first
          chat(['user', 'x'], ['system', 'y']), // 15 system not first
          chat(['system', 'x'], ['user', 'y']), // 16 no assistant
          chat(['user', ''], ['assistant', 'y']), // 17 empty content
          chat(['user', 'x'], ['assistant', '   ']), // 18 blank content
          { messages: [{ role: 'user', content: 5 }] }, // 19 content not a string
          { prompt: 'p', completion: 'c' }, // 20 another format
          chat(['user', 'x'], ['assistant', 'y'], ['assistant', 'z']), // 21 assistant twice
          { messages: [{ role: 7, content: 'x' }] }, // 22 role not a string
        ),
      ),
    )
    expect(report.valid).toBe(false)
    expect(report.format).toBe('chat')
    expect(report.error_count).toBe(21)
    expect(report.errors.map((e) => [e.line, e.kind])).toEqual([
      [2, 'invalid_json'],
      [3, 'not_object'],
      [4, 'unknown_format'],
      [5, 'mixed_formats'],
      [6, 'unknown_field'],
      [7, 'invalid_messages'],
      [8, 'invalid_messages'],
      [9, 'invalid_message'],
      [10, 'invalid_message'],
      [11, 'invalid_message'],
      [12, 'invalid_role'],
      [13, 'role_order'],
      [14, 'role_order'],
      [15, 'role_order'],
      [16, 'no_assistant'],
      [17, 'empty_string'],
      [18, 'empty_string'],
      [19, 'not_string'],
      [20, 'format_mismatch'],
      [21, 'role_order'],
    ])
    const byLine = new Map(report.errors.map((e) => [e.line, e.message]))
    expect(byLine.get(2)).toMatch(/^is not valid JSON: /)
    expect(byLine.get(3)).toBe('is an array, not a JSON object')
    expect(byLine.get(5)).toBe('mixes the fields of the chat and completion formats')
    expect(byLine.get(6)).toBe('has an unknown field "extra": chat records hold {"messages": [...]}')
    expect(byLine.get(10)).toBe('message 1 misses the field "content"')
    expect(byLine.get(11)).toBe('message 1 has an unknown field "name": messages hold "role" and "content"')
    expect(byLine.get(12)).toBe('message 1 has role "bot": roles are system, user and assistant')
    expect(byLine.get(13)).toBe('message 2 is a second user message in a row: user and assistant must alternate')
    expect(byLine.get(14)).toBe('message 1 is an assistant message before any user message')
    expect(byLine.get(15)).toBe('message 2 is a system message: only the first message may be one')
    expect(byLine.get(16)).toBe('has no assistant message: nothing to train on')
    expect(byLine.get(17)).toBe('the content of message 1 is empty')
    expect(byLine.get(19)).toBe('the content of message 1 is a number, not a string')
    expect(byLine.get(20)).toBe('is a completion record, but the file is in chat format: every line must be in the same format')
  })

  it('reports missing and unknown fields of the flat formats', async () => {
    const report = await validateFile(
      file(lines({ prompt: 'p', completion: 'c' }, { promt: 'p', completion: 'c' }, { prompt: 'p', completion: 'c', score: 1 }, { prompt: 1, completion: 'c' })),
    )
    expect(report.errors).toEqual([
      { line: 2, kind: 'missing_field', message: 'misses the field "prompt" of the completion format (and has an unknown field "promt")' },
      { line: 3, kind: 'unknown_field', message: 'has an unknown field "score": completion records hold {"prompt", "completion"}' },
      { line: 4, kind: 'not_string', message: 'field "prompt" is a number, not a string' },
    ])
  })

  it('detects the format from the first records: the most common wins', async () => {
    const report = await validateFile(file(lines({ prompt: 'p', completion: 'c' }, GOOD_CHAT, GOOD_CHAT, GOOD_CHAT)))
    expect(report.format).toBe('chat')
    expect(report.errors).toEqual([
      { line: 1, kind: 'format_mismatch', message: 'is a completion record, but the file is in chat format: every line must be in the same format' },
    ])
  })

  it('requires --format of every record when given', async () => {
    const report = await validateFile(file(lines(GOOD_CHAT, { text: 'x' })), { format: 'completion' })
    expect(report.format).toBe('completion')
    expect(report.format_source).toBe('given')
    expect(report.errors).toEqual([
      { line: 1, kind: 'format_mismatch', message: 'is a chat record, but --format completion was given: every line must be in the same format' },
      { line: 2, kind: 'missing_field', message: 'misses the field "prompt" of the completion format (and has an unknown field "text")' },
    ])
  })

  it('shows the first 20 errors and counts the rest', async () => {
    const bad = Array.from({ length: 45 }, (_, i) => `{"broken": ${i}`)
    const report = await validateFile(file(lines(GOOD_CHAT, ...bad)))
    expect(report.error_count).toBe(45)
    expect(report.errors).toHaveLength(20)
    expect(report.errors[0]!.line).toBe(2)
    expect(report.errors[19]!.line).toBe(21)
  })

  it('accepts CRLF line endings, a byte order mark, blank lines and a last line without newline', async () => {
    const content = '\ufeff' + JSON.stringify(GOOD_CHAT) + '\r\n\r\n   \r\n' + JSON.stringify(GOOD_CHAT) + '\r\n' + JSON.stringify(GOOD_CHAT)
    const report = await validateFile(file(content))
    expect(report).toMatchObject({ valid: true, records: 3, lines: 5, blank_lines: 2, bom: true, line_endings: 'crlf' })
    expect(report.sha256).toBe(createHash('sha256').update(content).digest('hex'))
  })

  it('gives the right line numbers after blank lines and CRLF', async () => {
    const report = await validateFile(file(`${JSON.stringify(GOOD_CHAT)}\r\n\r\n\r\n{oops}\r\n`))
    expect(report.errors.map((e) => e.line)).toEqual([4])
  })

  it('reports invalid UTF-8 with its line and byte, and checks the valid lines around it', async () => {
    const good = Buffer.from(JSON.stringify({ prompt: 'café', completion: '日本語 🙂' }) + '\n')
    const bad = Buffer.concat([Buffer.from('{"prompt": "caf'), Buffer.from([0xe9]), Buffer.from('", "completion": "x"}\n')])
    const report = await validateFile(file(Buffer.concat([good, bad, good])))
    expect(report.records).toBe(2)
    expect(report.errors).toEqual([{ line: 2, kind: 'invalid_utf8', message: 'is not valid UTF-8 (at byte 16 of the line): save the file as UTF-8' }])
  })

  it('quotes non-ASCII values in messages as the file wrote them', async () => {
    const report = await validateFile(file(lines({ prompt: 'p', completion: 'c' }, { prompt: 'p', completion: 'c', 'größe': 1 })))
    expect(report.errors[0]!.message).toContain('unknown field "größe"')
  })

  it('counts tokens from UTF-8 bytes, so non-Latin text is not under-counted', async () => {
    const report = await validateFile(file(lines({ prompt: '日本語', completion: 'xyz' })))
    // 9 bytes + 3 bytes = 12 -> 3 tokens
    expect(report.token_estimate).toBe(3)
  })

  it('validates a 10 MB single line', async () => {
    const record = { prompt: 'p', completion: 'x'.repeat(10 * 1024 * 1024) }
    const report = await validateFile(file(JSON.stringify(record) + '\n'), { batchBytes: 1024 * 1024 })
    expect(report).toMatchObject({ valid: true, records: 1, lines: 1 })
    expect(report.bytes).toBeGreaterThan(10 * 1024 * 1024)
  })

  it('says an empty file is empty, and a file of blank lines has no records', async () => {
    const empty = await validateFile(file(''))
    expect(empty).toMatchObject({ valid: false, error_count: 1, errors: [{ line: null, kind: 'empty_file', message: 'the file is empty' }] })
    expect(empty.sha256).toBe(createHash('sha256').digest('hex'))
    const blank = await validateFile(file('\n\n  \n'))
    expect(blank.errors).toEqual([{ line: null, kind: 'no_records', message: 'the file has no records, only 3 blank lines' }])
  })

  it('recognises a gzip file given by mistake, and other compressed files and UTF-16', async () => {
    const gz = await validateFile(file(gzipSync(lines(GOOD_CHAT))))
    expect(gz).toMatchObject({ valid: false, sha256: null })
    expect(gz.errors).toEqual([{ line: null, kind: 'compressed', message: 'the file is gzip-compressed, not JSONL: decompress it first (gunzip -k FILE)' }])
    const zip = await validateFile(file(Buffer.from([0x50, 0x4b, 0x03, 0x04, 0, 0])))
    expect(zip.errors[0]!.message).toContain('zip-compressed')
    const utf16 = await validateFile(file(Buffer.from('\ufeff{"prompt":"a","completion":"b"}\n', 'utf16le')))
    expect(utf16.errors[0]!.kind).toBe('wrong_encoding')
  })

  it('refuses a missing file and a directory with a usage error', async () => {
    await expect(validateFile(join(dir, 'nope.jsonl'), { displayPath: 'nope.jsonl' })).rejects.toThrow(UsageError)
    await expect(validateFile(join(dir, 'nope.jsonl'), { displayPath: 'nope.jsonl' })).rejects.toThrow('No such file: nope.jsonl.')
    await expect(validateFile(dir, { displayPath: 'data/' })).rejects.toThrow('data/ is a directory, not a JSONL file.')
  })

  it('gives the same report with worker threads as in one thread, across many batches', async () => {
    const records: unknown[] = []
    for (let i = 0; i < 3000; i++) {
      if (i % 97 === 5) records.push('{"broken')
      else if (i % 89 === 7) records.push({ prompt: 'p', completion: 'c' })
      else records.push(chat(['user', `question ${i} ${'é'.repeat(i % 7)}`], ['assistant', `answer ${'x'.repeat(i % 300)}`]))
    }
    const path = file(lines(...records))
    const inline = await validateFile(path, { threads: 0, batchBytes: 16 * 1024 })
    const parallel = await validateFile(path, { threads: 3, batchBytes: 16 * 1024 })
    expect(parallel.threads).toBe(3)
    expect({ ...parallel, threads: 0 }).toEqual(inline)
    expect(inline.error_count).toBe(31 + 34)
    expect(inline.errors[0]).toEqual({ line: 6, kind: 'invalid_json', message: expect.stringMatching(/^is not valid JSON/) })
  })

  it('skips a line longer than 32 MB without holding it, and goes on', async () => {
    const huge = Buffer.alloc(33 * 1024 * 1024, 0x61)
    const content = Buffer.concat([Buffer.from(lines(GOOD_CHAT)), huge, Buffer.from('\n' + lines(GOOD_CHAT, '{bad'))])
    const report = await validateFile(file(content), { threads: 0 })
    expect(report.records).toBe(2)
    expect(report.errors.map((e) => [e.line, e.kind])).toEqual([
      [2, 'line_too_long'],
      [4, 'invalid_json'],
    ])
    expect(report.sha256).toBe(createHash('sha256').update(content).digest('hex'))
  })

  it('stops when aborted, with the abort reason', async () => {
    const controller = new AbortController()
    controller.abort()
    const rejection = validateFile(file(lines(GOOD_CHAT)), { signal: controller.signal })
    await expect(rejection).rejects.toBe(controller.signal.reason)
    await expect(rejection).rejects.toMatchObject({ name: 'AbortError' })
  })

  it('stops mid-file when aborted, reading no further', async () => {
    const controller = new AbortController()
    const reason = new Error('validation cancelled')
    const path = file(lines(...Array.from({ length: 2_000 }, () => GOOD_CHAT)))
    const progress: number[] = []
    const rejection = validateFile(path, {
      threads: 0,
      batchBytes: 16 * 1024,
      signal: controller.signal,
      onProgress: (read) => {
        progress.push(read)
        controller.abort(reason)
      },
    })
    await expect(rejection).rejects.toBe(reason)
    expect(progress).toEqual([16 * 1024])
  })
})
