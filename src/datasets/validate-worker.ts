// A validation worker thread (src/datasets/pool.ts): its own build entry point, running
// the same batch validator, format tables included, as the main thread.
import { parentPort } from 'node:worker_threads'
import { createBatchValidator } from './batch.js'

const validate = createBatchValidator()
const port = parentPort!

port.on('message', (m: { buffer: ArrayBuffer; offset: number; length: number; forced: number }) => {
  try {
    const result = validate(Buffer.from(m.buffer, m.offset, m.length), m.forced)
    port.postMessage({ ok: true, result, buffer: m.buffer }, [m.buffer])
  } catch (error) {
    port.postMessage({ ok: false, error: String((error as Error | undefined)?.stack ?? error) })
  }
})
