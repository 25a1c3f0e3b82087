import { Worker } from 'node:worker_threads'
import { createBatchValidator, type BatchResult } from './batch.js'

/**
 * Worker threads that validate batches. Each is built from the batch validator's
 * source text (no separate file to bundle); batches are transferred, not copied,
 * and come back with the answer to be read into again, so memory stays flat. Each
 * worker answers in the order it was asked.
 */
export class BatchPool {
  private readonly workers: Worker[] = []
  private readonly waiting: { resolve: (r: BatchResult) => void; reject: (e: Error) => void }[][] = []
  private next = 0

  constructor(
    size: number,
    /** Receives each batch's buffer back from its worker. */
    private readonly onReturn: (buffer: ArrayBuffer) => void,
  ) {
    const source = `"use strict";
const { parentPort } = require('node:worker_threads');
const { isUtf8 } = require('node:buffer');
const validate = (${createBatchValidator.toString()})(isUtf8);
parentPort.on('message', (m) => {
  try {
    const result = validate(Buffer.from(m.buffer, m.offset, m.length), m.forced);
    parentPort.postMessage({ ok: true, result, buffer: m.buffer }, [m.buffer]);
  } catch (error) {
    parentPort.postMessage({ ok: false, error: String((error && error.stack) || error) });
  }
});`
    for (let i = 0; i < size; i++) {
      const worker = new Worker(source, { eval: true })
      const queue: (typeof this.waiting)[number] = []
      worker.on('message', (m: { ok: true; result: BatchResult; buffer: ArrayBuffer } | { ok: false; error: string }) => {
        const waiter = queue.shift()
        if (!waiter) return
        if (m.ok) {
          this.onReturn(m.buffer)
          waiter.resolve(m.result)
        }
        else waiter.reject(new Error(`validation worker failed: ${m.error}`))
      })
      worker.on('error', (error) => {
        for (const waiter of queue.splice(0)) waiter.reject(error)
      })
      this.workers.push(worker)
      this.waiting.push(queue)
    }
  }

  run(batch: Buffer, forced: number): Promise<BatchResult> {
    const i = this.next++ % this.workers.length
    return new Promise((resolve, reject) => {
      this.waiting[i]!.push({ resolve, reject })
      // The batch's memory is its own (allocUnsafeSlow): moved to the worker, not copied.
      this.workers[i]!.postMessage({ buffer: batch.buffer, offset: batch.byteOffset, length: batch.length, forced }, [batch.buffer as ArrayBuffer])
    })
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()))
  }
}
