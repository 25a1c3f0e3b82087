import { Worker } from 'node:worker_threads'
import { LoraError } from '../errors.js'
import type { BatchResult } from './batch.js'

/**
 * Each worker's heap, in MB (LORA_VALIDATE_MEMORY_MB): a batch is 4 MB and a line at
 * most 32 MB, so this is room for the largest legitimate line, not for a hostile one.
 */
export const WORKER_MEMORY_MB = 384

/**
 * The worker's script: built beside the chunks by scripts/build.mjs, and by the test
 * configuration from the source (LORA_VALIDATE_WORKER is set by each).
 */
const WORKER_SCRIPT = new URL(LORA_VALIDATE_WORKER, import.meta.url)

/**
 * Worker threads that validate batches (src/datasets/validate-worker.ts). Batches are transferred, not copied,
 * and come back with the answer to be read into again, so memory stays flat. Each
 * worker answers in the order it was asked.
 */
export class BatchPool {
  private readonly workers: Worker[] = []
  private readonly waiting: { resolve: (r: BatchResult) => void; reject: (e: Error) => void }[][] = []
  /** Why a worker stopped, once it has: what any later batch sent to it gets. */
  private readonly dead: (LoraError | null)[] = []
  private next = 0
  private closing = false

  constructor(
    size: number,
    /** Receives each batch's buffer back from its worker. */
    private readonly onReturn: (buffer: ArrayBuffer) => void,
    memoryMb = WORKER_MEMORY_MB,
  ) {
    for (let i = 0; i < size; i++) {
      // A worker over its limit is stopped alone (ERR_WORKER_OUT_OF_MEMORY), instead of
      // the whole process dying on V8's fatal heap error with a raw stack.
      const worker = new Worker(WORKER_SCRIPT, {
        resourceLimits: { maxOldGenerationSizeMb: memoryMb, maxYoungGenerationSizeMb: Math.min(64, Math.max(4, Math.floor(memoryMb / 8))), stackSizeMb: 4 },
      })
      const queue: (typeof this.waiting)[number] = []
      worker.on('message', (m: { ok: true; result: BatchResult; buffer: ArrayBuffer } | { ok: false; error: string }) => {
        const waiter = queue.shift()
        if (!waiter) return
        if (m.ok) {
          this.onReturn(m.buffer)
          waiter.resolve(m.result)
        }
        else waiter.reject(new LoraError(`A validation worker failed: ${m.error.split('\n')[0]}.`, { code: 'validation_worker_failed' }))
      })
      const index = this.workers.length
      const failed = (why: string, cause?: unknown) => {
        const error = this.dead[index] ?? new LoraError(`A validation worker ${why}: the file could not be checked.`, {
          code: 'validation_worker_failed',
          hint: `Its lines may be too large or too complex to parse; LORA_VALIDATE_MEMORY_MB raises each worker's memory (now ${memoryMb} MB).`,
          cause,
        })
        this.dead[index] = error
        for (const waiter of queue.splice(0)) waiter.reject(error)
      }
      worker.on('error', (error: NodeJS.ErrnoException) => {
        failed(error.code === 'ERR_WORKER_OUT_OF_MEMORY' ? `ran out of memory (${memoryMb} MB)` : `failed (${error.message})`, error)
      })
      worker.on('exit', (code) => {
        if (!this.closing) failed(`stopped (exit code ${code})`)
      })
      this.workers.push(worker)
      this.waiting.push(queue)
      this.dead.push(null)
    }
  }

  run(batch: Buffer, forced: number): Promise<BatchResult> {
    const i = this.next++ % this.workers.length
    const dead = this.dead[i]
    if (dead) return Promise.reject(dead)
    return new Promise((resolve, reject) => {
      this.waiting[i]!.push({ resolve, reject })
      // The batch's memory is its own (allocUnsafeSlow): moved to the worker, not copied.
      this.workers[i]!.postMessage({ buffer: batch.buffer, offset: batch.byteOffset, length: batch.length, forced }, [batch.buffer as ArrayBuffer])
    })
  }

  async close(): Promise<void> {
    this.closing = true
    await Promise.all(this.workers.map((w) => w.terminate()))
  }
}
