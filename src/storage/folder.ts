import { createReadStream } from 'node:fs'
import { mkdir, open, readdir, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises'
import { createHash, randomUUID } from 'node:crypto'
import { dirname, join } from 'node:path'
import type { Readable } from 'node:stream'
import type { Clock } from '../clock.js'
import { LoraError } from '../errors.js'
import type { Storage, StoredObject, UploadOptions, UploadSource } from './types.js'
import { checkBucket, checkObjectPath, encodeObjectUrl } from './paths.js'
import { loadSigningKey, signToken } from './signing.js'
import { readServerInfo, serveFolderStorage, type FolderServer } from './server.js'
import { pidAlive, tryLock } from '../lockfile.js'

/** Partial uploads, kept between runs so an interrupted one continues. */
const PARTIAL_DIR = '.partial'

/**
 * The embedded profile's storage: one folder per bucket under the storage folder.
 * Writes are atomic (a temporary file renamed into place); an upload with a resume
 * key keeps its partial file, and the next upload with that key continues from its
 * size. Signed URLs are served over loopback and really expire.
 */
export class FolderStorage implements Storage {
  readonly kind = 'folder' as const
  private lazyServer: Promise<FolderServer> | undefined

  constructor(
    readonly dir: string,
    private readonly clock: Clock,
  ) {}

  private bucketDir(bucket: string): string {
    checkBucket(bucket)
    return join(this.dir, bucket)
  }

  private objectFile(bucket: string, path: string): string {
    checkObjectPath(path)
    return join(this.bucketDir(bucket), ...path.split('/'))
  }

  async bucketExists(bucket: string): Promise<boolean> {
    try {
      return (await stat(this.bucketDir(bucket))).isDirectory()
    } catch {
      return false
    }
  }

  async ensureBucket(bucket: string): Promise<void> {
    await mkdir(this.bucketDir(bucket), { recursive: true, mode: 0o700 })
  }

  async upload(bucket: string, path: string, source: UploadSource, options: UploadOptions = {}): Promise<void> {
    const target = this.objectFile(bucket, path)
    if (!(await this.bucketExists(bucket))) throw new LoraError(`Bucket ${bucket} does not exist.`, { code: 'bucket_not_found' })
    if (!options.upsert && (await exists(target))) {
      throw new LoraError(`${bucket}/${path} already exists.`, { code: 'object_exists', hint: 'Upload with upsert to replace it.' })
    }
    const partialDir = join(this.dir, PARTIAL_DIR)
    await mkdir(partialDir, { recursive: true, mode: 0o700 })
    const key = createHash('sha256').update(`${bucket}\0${path}\0${options.resumeKey ?? randomUUID()}`).digest('hex')
    const partial = join(partialDir, `${key}.part`)
    const release = await lockPartial(`${partial}.lock`, `${bucket}/${path}`)
    let done = false
    try {
      let start = 0
      if (options.resumeKey) {
        const size = await fileSize(partial)
        // A partial longer than the source is not a prefix of it: start again.
        if (size !== null && size <= source.size) start = size
      }
      options.onStart?.(start)
      options.onProgress?.(start, source.size)
      // Each chunk is written before the next is read, so that whatever arrived is in
      // the partial file when the source fails: the next run continues after it.
      let written = start
      const handle = await open(partial, start > 0 ? 'r+' : 'w', 0o600)
      try {
        if (start === 0) await handle.truncate(0)
        options.signal?.throwIfAborted()
        if (start < source.size || source.size === 0) {
          const stream = source.open(start)
          try {
            for await (const chunk of stream) {
              options.signal?.throwIfAborted()
              const bytes = chunk as Buffer
              if (written + bytes.length > source.size) throw new Error(`the source gave more than its ${source.size} bytes`)
              await handle.write(bytes, 0, bytes.length, written)
              written += bytes.length
              options.onProgress?.(written, source.size)
            }
          } finally {
            stream.destroy()
          }
        }
        await handle.sync()
      } finally {
        await handle.close()
      }
      if (written !== source.size) throw new Error(`the source gave ${written} of its ${source.size} bytes`)
      await mkdir(dirname(target), { recursive: true, mode: 0o700 })
      await rename(partial, target)
      done = true
    } finally {
      await release()
      // Without a resume key nobody can continue the partial: do not leave it behind.
      if (!done && !options.resumeKey) await rm(partial, { force: true })
    }
  }

  async uploadBytes(bucket: string, path: string, bytes: Uint8Array): Promise<void> {
    const target = this.objectFile(bucket, path)
    await mkdir(dirname(target), { recursive: true, mode: 0o700 })
    const temp = `${target}.${randomUUID()}.tmp`
    try {
      await writeFile(temp, bytes, { mode: 0o600 })
      await syncFile(temp)
      await rename(temp, target)
    } catch (error) {
      await rm(temp, { force: true })
      throw error
    }
  }

  async download(bucket: string, path: string): Promise<Readable> {
    const file = this.objectFile(bucket, path)
    if (!(await exists(file))) throw new LoraError(`${bucket}/${path} does not exist.`, { code: 'object_not_found' })
    return createReadStream(file)
  }

  async signedUrl(bucket: string, path: string, expiresInSeconds: number): Promise<string> {
    checkBucket(bucket)
    checkObjectPath(path)
    const key = await loadSigningKey(this.dir)
    const iat = Math.floor(this.clock.now().getTime() / 1000)
    const token = signToken(key, { url: `${bucket}/${path}`, iat, exp: iat + Math.max(1, Math.floor(expiresInSeconds)) })
    return `${await this.baseUrl()}/storage/v1/object/sign/${encodeObjectUrl(bucket, path)}?token=${token}`
  }

  /**
   * The server of the process that holds the embedded stack, when one runs;
   * otherwise one started here, on first use, that lives as long as this storage.
   */
  private async baseUrl(): Promise<string> {
    const served = await readServerInfo(this.dir)
    if (served && pidAlive(served.pid)) return served.url
    this.lazyServer ??= serveFolderStorage(this.dir, { clock: this.clock, announce: false })
    return (await this.lazyServer).url
  }

  async stat(bucket: string, path: string): Promise<StoredObject | null> {
    try {
      const info = await stat(this.objectFile(bucket, path))
      return info.isFile() ? { path, size: info.size, updatedAt: info.mtime } : null
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return null
      throw error
    }
  }

  async list(bucket: string, prefix = ''): Promise<StoredObject[]> {
    const root = this.bucketDir(bucket)
    const out: StoredObject[] = []
    const walk = async (dir: string, rel: string): Promise<void> => {
      let entries
      try {
        entries = await readdir(dir, { withFileTypes: true })
      } catch {
        return
      }
      for (const entry of entries) {
        const path = rel ? `${rel}/${entry.name}` : entry.name
        if (entry.isDirectory()) {
          if (prefix.startsWith(`${path}/`) || path.startsWith(prefix) || `${path}/`.startsWith(prefix)) await walk(join(dir, entry.name), path)
        } else if (entry.isFile() && path.startsWith(prefix) && !entry.name.endsWith('.tmp')) {
          const info = await stat(join(dir, entry.name))
          out.push({ path, size: info.size, updatedAt: info.mtime })
        }
      }
    }
    await walk(root, '')
    return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  }

  async remove(bucket: string, paths: string[]): Promise<void> {
    const root = this.bucketDir(bucket)
    for (const path of paths) {
      const file = this.objectFile(bucket, path)
      await rm(file, { force: true })
      // Folders exist only through their objects, as in Supabase: prune the empty ones.
      for (let dir = dirname(file); dir.startsWith(`${root}/`); dir = dirname(dir)) {
        try {
          await rmdir(dir)
        } catch {
          break
        }
      }
    }
  }

  async close(): Promise<void> {
    const server = this.lazyServer
    this.lazyServer = undefined
    if (server) await (await server).close()
  }
}

async function exists(path: string): Promise<boolean> {
  return (await fileSize(path)) !== null
}

async function fileSize(path: string): Promise<number | null> {
  try {
    const info = await stat(path)
    return info.isFile() ? info.size : null
  } catch {
    return null
  }
}

async function syncFile(path: string): Promise<void> {
  const handle = await open(path, 'r+')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/**
 * One writer per partial file: two processes resuming the same upload would
 * interleave their bytes. The lock is taken atomically, a dead owner's taken over
 * after a re-check (src/lockfile.ts).
 */
export async function lockPartial(lockFile: string, what: string): Promise<() => Promise<void>> {
  const attempt = await tryLock(lockFile, {})
  if (!attempt.acquired) {
    throw new LoraError(`Another lora process (pid ${attempt.holder.pid}) is uploading ${what} right now.`, {
      code: 'upload_in_progress',
      hint: 'Wait for it to finish, or stop it and run again to resume.',
    })
  }
  return attempt.release
}
