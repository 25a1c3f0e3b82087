import { link, readdir, readFile, rm, unlink, writeFile } from 'node:fs/promises'
import { readFileSync, unlinkSync } from 'node:fs'
import { randomBytes, createHash } from 'node:crypto'
import { basename, dirname, join } from 'node:path'

/**
 * Lock files that exactly one process holds, across processes.
 *
 * The holder's record is written whole to a private temporary file and then
 * link()ed into place: link() fails if the lock exists, so a lock is never seen
 * empty or half written, and two processes never both create it. A lock whose
 * holder died is taken over only by the one process that wins a claim on that very
 * lock (again by link(), a claim file named after the lock's contents), and that
 * process re-checks, under its claim, that the lock still holds the dead holder's
 * record before it removes it. A claimer that dies is itself taken over, by a claim
 * one level up.
 */
export interface LockRecord {
  pid: number
  /** Unique to one holding: a pid can be reused, a token is not. */
  token: string
  [key: string]: unknown
}

export type LockAttempt<T> =
  | { acquired: true; record: T & LockRecord; release(): Promise<void>; releaseSync(): void }
  | { acquired: false; holder: T & LockRecord }

/** Tokens of this process's holdings and claims in progress: its own pid is alive, but only these are. */
const liveHere = new Set<string>()

export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  if (pid === process.pid) return true
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Whether the holder of a record is alive: in this process, only the holdings it knows of. */
export function recordAlive(record: Pick<LockRecord, 'pid' | 'token'>): boolean {
  return record.pid === process.pid ? liveHere.has(record.token) : pidAlive(record.pid)
}

type Read = { state: 'missing' } | { state: 'held'; raw: string; record: LockRecord } | { state: 'garbage'; raw: string }

async function readLock(path: string): Promise<Read> {
  let raw: string
  try {
    raw = await readFile(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'missing' }
    throw error
  }
  try {
    const parsed = JSON.parse(raw) as unknown
    // Earlier versions wrote a bare pid, or a record without a token.
    const record = (typeof parsed === 'number' ? { pid: parsed } : parsed) as Partial<LockRecord> | null
    if (record && typeof record.pid === 'number') return { state: 'held', raw, record: { ...record, pid: record.pid, token: typeof record.token === 'string' ? record.token : '' } }
  } catch {
    // Not a record of ours: an older lora wrote it, or it is damaged.
  }
  return { state: 'garbage', raw }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Tries once to hold the lock at `path`, taking over a dead holder's lock. Returns
 * the live holder when another process holds it.
 */
export async function tryLock<T extends object>(path: string, info: T): Promise<LockAttempt<T>> {
  const token = randomBytes(12).toString('hex')
  const record = { ...info, pid: process.pid, token } as T & LockRecord
  const temp = `${path}.${process.pid}.${token}.tmp`
  liveHere.add(token)
  let acquired = false
  try {
    await writeFile(temp, JSON.stringify(record), { mode: 0o600 })
    // Bounded: each round either takes the lock, finds a live holder, or removes a dead one.
    for (let round = 0; round < 200; round++) {
      try {
        await link(temp, path)
        acquired = true
        await removeLeftovers(path)
        return {
          acquired: true,
          record,
          // The token stays live until the file is gone: another attempt of this
          // process reading the lock meanwhile must see a live holder, not a dead one
          // to take over.
          release: async () => {
            const now = await readLock(path).catch(() => ({ state: 'missing' }) as Read)
            if (now.state === 'held' && now.record.token === token) await rm(path, { force: true })
            liveHere.delete(token)
          },
          releaseSync: () => {
            try {
              if ((JSON.parse(readFileSync(path, 'utf8')) as LockRecord).token === token) unlinkSync(path)
            } catch {
              // Gone already, or no longer ours.
            }
            liveHere.delete(token)
          },
        }
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      }
      const current = await readLock(path)
      if (current.state === 'missing') continue
      if (current.state === 'held' && recordAlive(current.record)) return { acquired: false, holder: current.record as T & LockRecord }
      const outcome = await takeOver(path, current.raw, temp)
      // Another process is removing that dead lock right now: give it a moment.
      if (outcome === 'claimed-by-other') await sleep(5 + Math.random() * 20)
    }
    throw new Error(`could not take the lock ${path}: it kept changing hands`)
  } finally {
    if (!acquired) liveHere.delete(token)
    await rm(temp, { force: true })
  }
}

/** Removes the dead lock whose contents are `raw`, if this process wins the claim on it. */
async function takeOver(path: string, raw: string, temp: string): Promise<'removed' | 'claimed-by-other' | 'changed'> {
  const instance = createHash('sha256').update(raw).digest('hex').slice(0, 16)
  for (let level = 0; level < 64; level++) {
    const claim = `${path}.takeover-${instance}-${level}`
    try {
      await link(temp, claim)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      const claimer = await readLock(claim)
      if (claimer.state === 'missing') return 'changed'
      if (claimer.state === 'held' && recordAlive(claimer.record)) return 'claimed-by-other'
      continue
    }
    try {
      // Under the claim, nobody else removes this lock: if it still holds the dead
      // record, it is safe to remove; if not, someone took it over already.
      const now = await readLock(path)
      if (now.state === 'missing' || now.raw !== raw) return 'changed'
      try {
        await unlink(path)
      } catch (error) {
        // Its holder released it after all (a holder in this process, or a pid
        // reused): the next round finds it free.
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'changed'
        throw error
      }
      return 'removed'
    } finally {
      await rm(claim, { force: true })
    }
  }
  return 'claimed-by-other'
}

/** Claims and temporary files that dead processes left beside the lock. */
async function removeLeftovers(path: string): Promise<void> {
  const dir = dirname(path)
  const name = basename(path)
  let entries: string[]
  try {
    entries = await readdir(dir)
  } catch {
    return
  }
  for (const entry of entries) {
    if (!entry.startsWith(`${name}.`)) continue
    const rest = entry.slice(name.length + 1)
    // A claim on an earlier lock's contents is moot now that the lock is ours: its
    // claimer's re-check fails whatever happens to the claim.
    const claim = rest.startsWith('takeover-')
    const temp = /^(\d+)\.[0-9a-f]+\.tmp$/.exec(rest)
    if (claim || (temp && !pidAlive(Number(temp[1])))) await rm(join(dir, entry), { force: true })
  }
}
