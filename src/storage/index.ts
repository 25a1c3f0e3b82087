import type { Context } from '../context.js'
import type { Storage } from './types.js'
import { UsageError } from '../errors.js'

/**
 * Opens the profile's storage: Supabase Storage when the profile names a Supabase
 * project, the folder storage otherwise. A profile without storage is an error for
 * the commands that need it, never a silent fall-back to a local folder.
 */
export async function openStorage(ctx: Context): Promise<Storage> {
  const config = await ctx.config()
  const storage = config.storage
  if (!storage) {
    throw new UsageError(`Profile ${config.profile} has no storage: set SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY, or LORA_STORAGE_DIR.`, {
      code: 'no_storage',
    })
  }
  if (storage.kind === 'supabase') {
    const { SupabaseStorage } = await import('./supabase.js')
    return new SupabaseStorage({
      url: storage.url,
      serviceRoleKey: storage.serviceRoleKey,
      stateDir: config.stateDir,
      ...(storage.timeoutMs !== undefined ? { timeoutMs: storage.timeoutMs } : {}),
    })
  }
  const { FolderStorage } = await import('./folder.js')
  return new FolderStorage(storage.dir, ctx.clock)
}

export { serveFolderStorage } from './server.js'
