import { createHash } from 'node:crypto'
import { open, stat } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { UsageError } from '../errors.js'
import { createBatchValidator, type BatchResult } from './batch.js'
import { FORMATS, MAX_LINE_BYTES, type DatasetFormat, type LineError } from './formats.js'
import { fileError, Merger } from './merge.js'
import { BatchPool } from './pool.js'

/** Below this size a file is validated in this thread: starting workers would cost more. */
export const PARALLEL_MIN_BYTES = 8 * 1024 * 1024
const BATCH_BYTES = 4 * 1024 * 1024

export interface ValidateOptions {
  /** Required of every record instead of detected from the first ones. */
  format?: DatasetFormat
  /** The file as the user named it, for messages (default: the path). */
  displayPath?: string
  signal?: AbortSignal
  onProgress?: (bytesRead: number, total: number) => void
  /** Worker threads; by default one per core but this one (at most 4) for files of 8 MB and more, else none. */
  threads?: number
  batchBytes?: number
  /** Each worker's heap limit in MB (default WORKER_MEMORY_MB). */
  workerMemoryMb?: number
}

/** The outcome of validating a file: the `validation` object of --json. */
export interface ValidationReport {
  valid: boolean
  format: DatasetFormat | null
  format_source: 'given' | 'detected' | null
  bytes: number
  /** Of the whole file; null when reading stopped early (a compressed file). */
  sha256: string | null
  lines: number
  records: number
  blank_lines: number
  line_endings: 'lf' | 'crlf' | 'mixed'
  bom: boolean
  training_pairs: number
  token_estimate: number
  error_count: number
  /** The first 20, by line. */
  errors: LineError[]
  threads: number
}

/**
 * Validates a JSONL training file in one streaming pass: sha256, bytes, records,
 * training pairs and a token estimate, and every problem with its line. Memory stays
 * constant whatever the file's size (a few batches of 4 MB in flight; one line is at
 * most 32 MB). Large files are parsed by worker threads, one batch of whole lines
 * each, the results merged in file order.
 */
export async function validateFile(path: string, options: ValidateOptions = {}): Promise<ValidationReport> {
  const size = await fileSize(path, options.displayPath ?? path)
  const forced = options.format ? FORMATS.indexOf(options.format) : -1
  const threads = options.threads ?? (size >= PARALLEL_MIN_BYTES ? defaultThreads() : 0)
  const merger = new Merger()
  if (size === 0) return merger.report({ size, sha256: emptySha256(), bom: false, threads: 0, forced, fileError: fileError('empty_file', 'the file is empty') })

  const handle = await open(path, 'r')
  // Batch buffers come back once validated, to be read into again: memory stays flat.
  const spare: ArrayBuffer[] = []
  const keepSpare = (buffer: ArrayBuffer) => {
    if (spare.length < threads * 2 + 3) spare.push(buffer)
  }
  const pool = threads > 0 ? new BatchPool(threads, keepSpare, options.workerMemoryMb) : null
  // Validates the batches when there is no pool, and judges lines too long for one read.
  const local = createBatchValidator()
  const inflight: Promise<BatchResult>[] = []
  const maxInflight = Math.max(2, threads * 2)
  const batchBytes = options.batchBytes ?? BATCH_BYTES
  const hash = createHash('sha256')
  let bom = false
  let pendingRead: Promise<{ buffer: Buffer; carried: number; bytesRead: number }> | null = null
  try {
    const dispatch = async (batch: Buffer) => {
      if (!pool) {
        merger.add(local(batch, forced))
        return keepSpare(batch.buffer as ArrayBuffer)
      }
      const result = pool.run(batch, forced)
      // Awaited in order below; a failure before its turn is not an unhandled one.
      result.catch(() => {})
      inflight.push(result)
      if (inflight.length >= maxInflight) merger.add(await inflight.shift()!)
    }
    const addResult = (result: BatchResult) => {
      if (pool) inflight.push(Promise.resolve(result))
      else merger.add(result)
    }

    /** Reads the next stretch of the file behind the carried start of a line. */
    const readAfter = async (carry: Buffer | null, position: number) => {
      const carried = carry?.length ?? 0
      // A line longer than a batch grows the buffer until its newline comes.
      const want = Math.max(batchBytes, Math.min(carried * 2, MAX_LINE_BYTES + batchBytes))
      const reused = spare.pop()
      const buffer = reused && reused.byteLength >= want ? Buffer.from(reused) : Buffer.allocUnsafeSlow(want)
      carry?.copy(buffer, 0)
      const { bytesRead } = await handle.read(buffer, carried, buffer.length - carried, position)
      return { buffer, carried, bytesRead }
    }

    let position = 0
    const cutter = new LineCutter(local)
    pendingRead = readAfter(null, 0)
    for (;;) {
      options.signal?.throwIfAborted()
      const { buffer, carried, bytesRead } = await pendingRead!
      pendingRead = null
      const filled = carried + bytesRead
      const atEnd = bytesRead === 0
      let start = 0
      if (position === 0) {
        const problem = sniff(buffer.subarray(0, filled))
        if (problem) return merger.report({ size, sha256: null, bom: false, threads, forced, fileError: problem })
        if (buffer[0] === 0xef && buffer[1] === 0xbb && buffer[2] === 0xbf) {
          bom = true
          start = 3
        }
      }
      position += bytesRead

      const { batch, carry, skipped, longBefore } = cutter.cut(buffer, start, filled, carried, atEnd)
      // The disk reads the next stretch while this one is hashed and validated.
      if (!atEnd) pendingRead = readAfter(carry, position)
      if (bytesRead > 0) hash.update(buffer.subarray(carried, filled))
      options.onProgress?.(position, size)
      if (longBefore) addResult(longLine())
      if (batch) await dispatch(batch)
      if (skipped) addResult(skipped)
      // A read that sent no batch (a line skipped through) is read into again.
      if (!batch) keepSpare(buffer.buffer as ArrayBuffer)
      if (atEnd) break
    }
    while (inflight.length > 0) merger.add(await inflight.shift()!)
    return merger.report({ size, sha256: hash.digest('hex'), bom, threads, forced, fileError: null })
  } finally {
    await pendingRead?.catch(() => {})
    await handle.close()
    // Results still in flight (an abort, an error) are not waited for.
    for (const pending of inflight) pending.catch(() => {})
    await pool?.close()
  }
}

/** The size of the file to validate; a missing, unreadable or special file is a usage error. */
async function fileSize(path: string, shown: string): Promise<number> {
  try {
    const info = await stat(path)
    if (info.isDirectory()) throw new UsageError(`${shown} is a directory, not a JSONL file.`, { code: 'not_a_file' })
    if (!info.isFile()) throw new UsageError(`${shown} is not a regular file.`, { code: 'not_a_file' })
    return info.size
  } catch (error) {
    if (error instanceof UsageError) throw error
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new UsageError(`No such file: ${shown}.`, { code: 'file_not_found' })
    if (code === 'EACCES') throw new UsageError(`Cannot read ${shown}: permission denied.`, { code: 'file_unreadable' })
    throw error
  }
}

/**
 * Cuts each read at its last newline: the whole lines go to validation as a batch,
 * the rest starts the next read. A line longer than the limit is reported and
 * skipped, never parsed; one that goes on past a read is judged on its start, and
 * if condemned already is reported and skipped, not held whole (up to 32 MB) until
 * its newline comes.
 */
class LineCutter {
  /** Inside a line that was reported already: everything up to its newline is skipped. */
  private skippingLongLine = false

  constructor(private readonly local: ReturnType<typeof createBatchValidator>) {}

  cut(buffer: Buffer, start: number, filled: number, carried: number, atEnd: boolean) {
    let batch: Buffer | null = null
    let carry: Buffer | null = null
    let longBefore = false
    /** The result of a line cut at the end of this read and skipped: too long, or nested too deep already. */
    let skipped: BatchResult | null = null
    const carryOrSkip = (from: number) => {
      const verdict = this.local.startOfLine(buffer.subarray(from, filled))
      if (verdict) {
        skipped = verdict
        this.skippingLongLine = true
      } else carry = Buffer.from(buffer.subarray(from, filled))
    }
    if (this.skippingLongLine) {
      const newline = buffer.indexOf(10, start)
      if (newline !== -1 && newline < filled) {
        this.skippingLongLine = false
        start = newline + 1
      } else start = filled
    } else if (carried > 0) {
      const newline = buffer.indexOf(10, start)
      const end = newline !== -1 && newline < filled ? newline : filled
      if (end - start > MAX_LINE_BYTES) {
        longBefore = true
        if (end < filled) start = end + 1
        else {
          this.skippingLongLine = true
          start = filled
        }
      }
    }
    if (!this.skippingLongLine) {
      if (atEnd) {
        // The last line, without a newline at its end.
        if (filled > start) batch = buffer.subarray(start, filled)
      } else {
        const lastNewline = buffer.lastIndexOf(10, filled - 1)
        if (lastNewline < start) {
          if (filled - start > MAX_LINE_BYTES) {
            skipped = longLine()
            this.skippingLongLine = true
          } else if (filled > start) carryOrSkip(start)
        } else {
          batch = buffer.subarray(start, lastNewline + 1)
          if (lastNewline + 1 < filled) carryOrSkip(lastNewline + 1)
        }
      }
    }
    return { batch: batch as Buffer | null, carry: carry as Buffer | null, skipped: skipped as BatchResult | null, longBefore }
  }
}

/**
 * Workers besides this thread, which reads and hashes: one per other core, at most
 * 4 (each costs memory; past 4 the disk and the hash keep up no better).
 */
export function defaultThreads(): number {
  const cores = availableParallelism()
  return cores <= 1 ? 0 : Math.min(cores - 1, 4)
}

function emptySha256(): string {
  return createHash('sha256').digest('hex')
}

/** What the first bytes say: a compressed file or UTF-16 given by mistake. */
function sniff(head: Buffer): LineError | null {
  const starts = (...bytes: number[]) => bytes.every((b, i) => head[i] === b)
  const compressed = (tool: string, how: string) => fileError('compressed', `the file is ${tool}-compressed, not JSONL: decompress it first (${how})`)
  if (starts(0x1f, 0x8b)) return compressed('gzip', 'gunzip -k FILE')
  if (starts(0x50, 0x4b, 0x03, 0x04)) return compressed('zip', 'unzip FILE')
  if (starts(0x42, 0x5a, 0x68) && head[3]! >= 0x31 && head[3]! <= 0x39) return compressed('bzip2', 'bunzip2 -k FILE')
  if (starts(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)) return compressed('xz', 'unxz -k FILE')
  if (starts(0x28, 0xb5, 0x2f, 0xfd)) return compressed('zstd', 'unzstd FILE')
  if (starts(0xff, 0xfe) || starts(0xfe, 0xff)) {
    return fileError('wrong_encoding', 'the file is UTF-16 text: convert it to UTF-8 (iconv -f UTF-16 -t UTF-8 FILE)')
  }
  return null
}

function longLine(): BatchResult {
  return {
    lines: 1,
    blank: 0,
    crlf: 0,
    errorCount: 1,
    errors: [{ line: 1, kind: 'line_too_long', message: `is longer than ${MAX_LINE_BYTES / 1024 / 1024} MB: no training record is that long (is this JSONL?)` }],
    tallies: FORMATS.map(() => ({ records: 0, pairs: 0, tokens: 0, lines: [] })),
    first: [],
  }
}
