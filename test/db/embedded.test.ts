import { afterEach, describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { existsSync, writeFileSync, mkdirSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { holdEmbedded, openEmbedded, type EmbeddedDb } from '../../src/db/embedded.js'
import { openPostgres } from '../../src/db/postgres.js'
import { migrate } from '../../src/db/migrate.js'
import { systemClock } from '../../src/clock.js'
import { runLora, tempDir } from '../helpers/cli.js'
import { copyMigratedEmbedded } from '../helpers/db.js'

describe('the embedded database: one holder, others through its socket', () => {
  const dirs: { remove(): void }[] = []
  const open: EmbeddedDb[] = []
  afterEach(async () => {
    for (const db of open.splice(0)) await db.close()
    for (const d of dirs.splice(0)) d.remove()
  })

  /**
   * A workspace whose embedded database exists already (a copy of the migrated
   * template): creating a PGlite cluster takes seconds, and none of these tests is
   * about creating one (e2e/cli.test.ts is).
   */
  const workspace = () => {
    const d = tempDir()
    dirs.push(d)
    const dir = join(d.path, '.lora', 'db')
    copyMigratedEmbedded(dir)
    return { cwd: d.path, dir }
  }

  it('serves the held database to another lora process, which does not wait for the lock', async () => {
    const { cwd, dir } = workspace()
    const held = await openEmbedded({ dir, serve: true, clock: systemClock })
    open.push(held)
    expect(held.mode).toBe('held')
    // Migrated already (the template): migrate finds nothing to do, and says so.
    expect(await migrate(held)).toMatchObject({ applied: [], alreadyCurrent: true })
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
    // Gone at once, without waiting for the transaction: as a client that dies.
    await a.close({ waitMs: 0 })
    expect(await held.query('SELECT * FROM events')).toEqual([])
  })

  /** A startup packet of protocol 3.0, as the driver sends it. */
  const startup = () => {
    const body = Buffer.from('user\0postgres\0database\0postgres\0\0')
    const head = Buffer.alloc(8)
    head.writeInt32BE(8 + body.length, 0)
    head.writeInt32BE(196608, 4)
    return Buffer.concat([head, body])
  }
  const frame = (type: string, length: number, body = Buffer.alloc(0)) => {
    const head = Buffer.alloc(5)
    head.write(type, 0, 'latin1')
    head.writeUInt32BE(length >>> 0, 1)
    return Buffer.concat([head, body])
  }

  /** Sends bytes on a raw connection (after a real startup when asked) and resolves when the server closes it. */
  const sendRaw = (socketPath: string, bytes: Buffer, options: { startup: boolean; end?: boolean }) =>
    new Promise<{ closedByServer: boolean }>((resolve, reject) => {
      const socket = connect(socketPath)
      let received = Buffer.alloc(0)
      let sent = false
      const timer = setTimeout(() => {
        socket.destroy()
        resolve({ closedByServer: false })
      }, 5_000)
      const send = () => {
        sent = true
        socket.write(bytes)
        if (options.end) socket.end()
      }
      socket.on('connect', () => (options.startup ? socket.write(startup()) : send()))
      socket.on('data', (data) => {
        received = Buffer.concat([received, data])
        // ReadyForQuery, idle: the session is up, now the bad frame.
        if (options.startup && !sent && received.includes(Buffer.from([0x5a, 0, 0, 0, 5, 0x49]))) send()
      })
      socket.on('error', () => {})
      socket.on('close', () => {
        clearTimeout(timer)
        if (!sent) reject(new Error('the server closed the connection before the frame was sent'))
        else resolve({ closedByServer: true })
      })
    })

  it('drops a client that sends a malformed frame, and keeps serving the others', async () => {
    const { dir } = workspace()
    const held = await openEmbedded({ dir, serve: true, clock: systemClock })
    open.push(held)
    const other = await openPostgres({ socketPath: held.socketPath!, max: 1 })
    try {
      const cases: [string, Buffer, boolean][] = [
        ['a length of 0xFFFFFFFF', frame('Q', 0xffffffff), true],
        ['a length of zero', frame('Q', 0), true],
        ['a length above the 64 MB cap', frame('Q', 64 * 1024 * 1024 + 1), true],
        ['an unknown message type', frame('!', 8, Buffer.from('abcd')), true],
        ['a startup length of 0xFFFFFFFF', Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 3, 0, 0]), false],
        ['a startup length of zero', Buffer.alloc(8), false],
        ['garbage instead of a startup packet', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), false],
        ['an unknown protocol version', Buffer.from([0, 0, 0, 8, 0, 2, 0, 0]), false],
      ]
      for (const [what, bytes, afterStartup] of cases) {
        const rssBefore = process.memoryUsage().rss
        const result = await sendRaw(held.socketPath!, bytes, { startup: afterStartup })
        expect({ what, ...result }).toEqual({ what, closedByServer: true })
        expect(process.memoryUsage().rss - rssBefore, what).toBeLessThan(64 * 1024 * 1024)
        expect((await other.query<{ n: number }>('SELECT 1 AS n'))[0]!.n, what).toBe(1)
      }
      // Half a frame, then the client goes away: nothing is left waiting for the rest.
      await sendRaw(held.socketPath!, frame('Q', 100, Buffer.from('SELECT')), { startup: true, end: true })
      expect((await other.query<{ n: number }>('SELECT 2 AS n'))[0]!.n).toBe(2)
      expect(await held.query<{ n: number }>('SELECT 3 AS n')).toEqual([{ n: 3 }])
      const deadline = Date.now() + 5_000
      while (held.clients!() > 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
      expect(held.clients!()).toBe(1)
    } finally {
      await other.close()
    }
  })

  it('creates its socket 0600 in a private folder whatever the umask, and a fresh private folder when the path is too long', async () => {
    const { cwd, dir } = workspace()
    const previous = process.umask(0)
    let held: EmbeddedDb
    try {
      held = await openEmbedded({ dir, serve: true, clock: systemClock })
    } finally {
      process.umask(previous)
    }
    open.push(held)
    expect(held.socketPath).toBe(join(dir, 'db.sock'))
    expect(statSync(held.socketPath!).mode & 0o777).toBe(0o600)
    expect(statSync(dir).mode & 0o777).toBe(0o700)

    const long = join(cwd, 'a'.repeat(60), 'b'.repeat(60), '.lora', 'db')
    copyMigratedEmbedded(long)
    const first = await holdEmbedded({ dir: long, serve: true, clock: systemClock })
    expect('db' in first).toBe(true)
    if (!('db' in first)) return
    const socket = first.db.socketPath!
    expect(dirname(dirname(socket))).toBe(tmpdir())
    expect(statSync(dirname(socket)).mode & 0o777).toBe(0o700)
    expect(statSync(socket).mode & 0o777).toBe(0o600)
    // Another process finds it through the lock, wherever it is.
    const client = await openEmbedded({ dir: long, serve: true, clock: systemClock })
    expect(client).toMatchObject({ mode: 'client', socketPath: socket })
    await client.close()
    await first.db.close()
    expect(existsSync(dirname(socket))).toBe(false)
    // Not predictable: the next holder gets another folder.
    const second = await holdEmbedded({ dir: long, serve: true, clock: systemClock })
    if (!('db' in second)) throw new Error('not held')
    expect(second.db.socketPath).not.toBe(socket)
    await second.db.close()
  })
})
