import type { Context } from './context.js'
import { migrate } from './db/migrate.js'
import { writeEmbeddedInfo, type EmbeddedDb } from './db/embedded.js'
import { join } from 'node:path'
import { rm } from 'node:fs/promises'
import { LoraError } from './errors.js'

export interface LocalStackInfo {
  pid: number
  database: string
  socket: string
  storage: string
  migrated: string[]
  simulator: string
}

/**
 * The embedded stack of `lora local start` (and of the demo): the embedded database
 * held by this process and served to others, migrated to the current schema.
 */
export async function startLocalStack(ctx: Context): Promise<{ info: LocalStackInfo; stop(): Promise<void> }> {
  const config = await ctx.config()
  const db = (await ctx.rawDb()) as EmbeddedDb
  if (db.mode !== 'held') {
    throw new LoraError(`The embedded database in ${config.database!.dir} is already held by another lora process.`, {
      code: 'embedded_busy',
      hint: 'Another `lora local start` or `lora daemon` is running here; use that one.',
    })
  }
  const result = await migrate(db)
  const { startSimulator } = await import('./cluster/simulator.js')
  const sim = await startSimulator({
    stateFile: join(config.stateDir, 'simulator.json'),
    speed: Number(ctx.env.LORA_SIMULATOR_SPEED ?? 1),
    clock: ctx.clock,
  })
  // Signed URLs of the folder storage are served by the process that holds the stack.
  const { serveFolderStorage } = await import('./storage/server.js')
  const storageServer = config.storage?.kind === 'folder' ? await serveFolderStorage(config.storage.dir, { clock: ctx.clock }) : null
  const info: LocalStackInfo = {
    pid: process.pid,
    database: config.database!.dir!,
    socket: db.socketPath!,
    storage: config.storage?.kind === 'folder' ? `${config.storage.dir} (signed URLs on ${storageServer!.url})` : 'none',
    migrated: result.applied.map((m) => `${m.version}_${m.name}`),
    simulator: sim.url,
  }
  // Other lora processes here find the served simulator through this file.
  await writeEmbeddedInfo(config.stateDir, { pid: process.pid, simulator: sim.url, socket: info.socket })
  return {
    info,
    stop: async () => {
      await rm(join(config.stateDir, 'local.json'), { force: true })
      await sim.close()
      await storageServer?.close()
      await ctx.close()
    },
  }
}
