import { afterEach, describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { existsSync, writeFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { openEmbedded, type EmbeddedDb } from '../../src/db/embedded.js'
import { openPostgres } from '../../src/db/postgres.js'
import { migrate } from '../../src/db/migrate.js'
import { systemClock } from '../../src/clock.js'
import { runLora, tempDir } from '../helpers/cli.js'

describe('the embedded database: one holder, others through its socket', () => {
  const dirs: { remove(): void }[] = []
  const open: EmbeddedDb[] = []
  afterEach(async () => {
    for (const db of open.splice(0)) await db.close()
    for (const d of dirs.splice(0)) d.remove()
  })

  const workspace = () => {
    const d = tempDir()
    dirs.push(d)
    return { cwd: d.path, dir: join(d.path, '.lora', 'db') }
  }

  it('serves the held database to another lora process, which does not wait for the lock', async () => {
    const { cwd, dir } = workspace()
    const held = await openEmbedded({ dir, serve: true, clock: systemClock })
    open.push(held)
    expect(held.mode).toBe('held')
    await migrate(held)
    const result = await runLora(['db', 'status', '--json'], { cwd, env: { LORA_EMBEDDED_WAIT: '1s' } })
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout)).toMatchObject({ current: true, pending: [] })
  })

  it('makes another process wait for a holder that does not serve, then say who holds it', async () => {
    const { cwd, dir } = workspace()
    const held = await openEmbedded({ dir, serve: false, clock: systemClock })
    open.push(held)
    const result = await runLora(['db', 'status'], { cwd, env: { LORA_EMBEDDED_WAIT: '300ms' } })
    expect(result.code).toBe(1)
    expect(result.stderr).toContain(`error: The embedded database in ${dir} is in use by process ${process.pid}.`)
    expect(result.stderr).not.toMatch(/\n\s+at /)
  })

  it('takes over a lock left by a process that died', async () => {
    const { dir } = workspace()
    mkdirSync(dir, { recursive: true })
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString()
    writeFileSync(join(dir, 'db.lock'), JSON.stringify({ pid: Number(dead), since: new Date().toISOString() }))
    const held = await openEmbedded({ dir, serve: false, clock: systemClock, waitMs: 1000 })
    open.push(held)
    expect(held.mode).toBe('held')
    await held.close()
    open.pop()
    expect(existsSync(join(dir, 'db.lock'))).toBe(false)
  })

  it("never runs one client's statement inside another client's open transaction", async () => {
    const { dir } = workspace()
    const held = await openEmbedded({ dir, serve: true, clock: systemClock })
    open.push(held)
    await held.exec('CREATE TABLE events (n int)')
    const a = await openPostgres({ socketPath: held.socketPath!, max: 1 })
    const b = await openPostgres({ socketPath: held.socketPath!, max: 1 })
    const order: string[] = []
    let releaseA!: () => void
    const aMayCommit = new Promise<void>((r) => (releaseA = r))
    const txA = a.transaction(async (tx) => {
      await tx.query('INSERT INTO events VALUES (1)')
      order.push('a inserted')
      await aMayCommit
      order.push('a commits')
    })
    while (!order.includes('a inserted')) await new Promise((r) => setTimeout(r, 10))
    // Both of these must wait for A's transaction to end, not run inside it.
    const fromB = b.query<{ n: number }>('SELECT count(*)::int AS n FROM events').then((r) => {
      order.push('b read')
      return r[0]!.n
    })
    const fromHolder = held.query<{ n: number }>('SELECT count(*)::int AS n FROM events').then((r) => {
      order.push('holder read')
      return r[0]!.n
    })
    await new Promise((r) => setTimeout(r, 200))
    expect(order).toEqual(['a inserted'])
    releaseA()
    await txA
    expect(await fromB).toBe(1)
    expect(await fromHolder).toBe(1)
    expect(order.slice(0, 2)).toEqual(['a inserted', 'a commits'])
    await a.close()
    await b.close()
  })

  it('rolls back the transaction of a client that disconnects in the middle of it', async () => {
    const { dir } = workspace()
    const held = await openEmbedded({ dir, serve: true, clock: systemClock })
    open.push(held)
    await held.exec('CREATE TABLE events (n int)')
    const a = await openPostgres({ socketPath: held.socketPath!, max: 1 })
    let inserted!: () => void
    const didInsert = new Promise<void>((r) => (inserted = r))
    const never = new Promise<void>(() => {})
    void a.transaction(async (tx) => {
      await tx.query('INSERT INTO events VALUES (1)')
      inserted()
      await never
    }).catch(() => {})
    await didInsert
    await a.close().catch(() => {})
    expect(await held.query('SELECT * FROM events')).toEqual([])
  })
})
