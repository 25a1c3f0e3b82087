import { readFile, rename, writeFile, unlink } from 'node:fs/promises'
import { z } from 'zod'
import { LoraError } from '../errors.js'
import { SubmitRequest } from './contract.js'

/**
 * What the simulator remembers across restarts: the jobs, their submission counts
 * and when they started. Progress is not stored, it is recomputed from time.
 */

export const StoredJob = z.object({
  external_job_id: z.string().min(1),
  job_id: z.string().min(1),
  request: SubmitRequest,
  submitted_at: z.iso.datetime({ offset: true }),
  /** The seed the job was planned with, so that restarting with another seed keeps it. */
  seed: z.number().int(),
  fate: z.enum(['complete', 'fail', 'never']),
  /** Simulated ms after submission at which the job was cancelled. */
  cancelled_after_ms: z.number().nonnegative().optional(),
  submissions: z.number().int().nonnegative(),
})
export type StoredJob = z.infer<typeof StoredJob>

const StateFile = z.object({
  version: z.literal(1),
  jobs: z.array(StoredJob),
})

export async function loadState(path: string): Promise<StoredJob[]> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw new LoraError(`The simulator state file ${path} could not be read.`, { cause: error })
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    throw new LoraError(`The simulator state file ${path} is not valid JSON.`, {
      hint: 'Delete it to start the simulator with no jobs.',
      cause: error,
    })
  }
  const result = StateFile.safeParse(parsed)
  if (!result.success) {
    throw new LoraError(`The simulator state file ${path} does not hold simulator state.`, {
      hint: 'Delete it to start the simulator with no jobs.',
      cause: result.error,
    })
  }
  return result.data.jobs
}

/**
 * Writes the state at most once per debounce interval, each write to a temporary
 * file renamed over the old one, so a crash leaves either the old or the new state.
 */
export class StateWriter {
  private timer: NodeJS.Timeout | undefined
  private writing: Promise<void> = Promise.resolve()
  private dirty = false
  private sequence = 0

  constructor(
    private readonly path: string,
    private readonly snapshot: () => StoredJob[],
    private readonly debounceMs = 50,
  ) {}

  schedule(): void {
    this.dirty = true
    if (this.timer !== undefined) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      void this.flush().catch(() => {
        // A failed write is retried by the next change or by close().
        this.dirty = true
      })
    }, this.debounceMs)
    this.timer.unref()
  }

  /** Writes now if anything changed; resolves once the state is on disk. */
  flush(): Promise<void> {
    if (this.timer !== undefined) {
      clearTimeout(this.timer)
      this.timer = undefined
    }
    // Chained on the previous write, whatever became of it, so writes never overlap.
    this.writing = this.writing.catch(() => undefined).then(async () => {
      if (!this.dirty) return
      this.dirty = false
      const body = `${JSON.stringify({ version: 1, jobs: this.snapshot() }, null, 2)}\n`
      const temporary = `${this.path}.${process.pid}.${++this.sequence}.tmp`
      try {
        await writeFile(temporary, body, 'utf8')
        await rename(temporary, this.path)
      } catch (error) {
        this.dirty = true
        await unlink(temporary).catch(() => undefined)
        throw error
      }
    })
    return this.writing
  }
}
