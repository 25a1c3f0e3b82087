import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { chmod, link, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

/**
 * Signed URLs of the folder storage carry a JWT (HS256) as Supabase's do: the object
 * it grants and when it expires. The secret lives in the storage folder, readable by
 * its owner only, so every lora process on this folder signs and checks alike.
 */
export const SIGNING_KEY_FILE = '.signing-key'

export async function loadSigningKey(storageDir: string): Promise<Buffer> {
  const path = join(storageDir, SIGNING_KEY_FILE)
  try {
    return await readKey(path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
  await mkdir(storageDir, { recursive: true, mode: 0o700 })
  // Written aside, then linked into place: link fails when another process won the
  // race, and nobody ever reads a half-written key.
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`
  await writeFile(temp, randomBytes(32).toString('hex'), { mode: 0o600 })
  try {
    await link(temp, path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
  } finally {
    await rm(temp, { force: true })
  }
  return readKey(path)
}

async function readKey(path: string): Promise<Buffer> {
  const text = (await readFile(path, 'utf8')).trim()
  if (!/^[0-9a-f]{64}$/.test(text)) throw new Error(`${path} is not a signing key (64 hex digits)`)
  // A key that others can read is not a secret: tighten it rather than refuse.
  if (((await stat(path)).mode & 0o077) !== 0) await chmod(path, 0o600)
  return Buffer.from(text, 'hex')
}

const b64url = (data: Buffer | string) => Buffer.from(data).toString('base64url')
const HEADER = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))

export interface SignedClaims {
  /** bucket/path of the object. */
  url: string
  iat: number
  exp: number
}

export function signToken(key: Buffer, claims: SignedClaims): string {
  const body = `${HEADER}.${b64url(JSON.stringify(claims))}`
  return `${body}.${createHmac('sha256', key).update(body).digest('base64url')}`
}

export type TokenCheck = { ok: true } | { ok: false; reason: 'invalid' | 'expired' | 'wrong_object' }

/** Checks a token's signature, that it grants this object, and that it has not expired. */
export function verifyToken(key: Buffer, token: string, objectUrl: string, nowSeconds: number): TokenCheck {
  const parts = token.split('.')
  if (parts.length !== 3) return { ok: false, reason: 'invalid' }
  const expected = createHmac('sha256', key).update(`${parts[0]}.${parts[1]}`).digest()
  const given = Buffer.from(parts[2]!, 'base64url')
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'invalid' }
  let claims: Partial<SignedClaims>
  try {
    claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Partial<SignedClaims>
  } catch {
    return { ok: false, reason: 'invalid' }
  }
  if (typeof claims.exp !== 'number' || typeof claims.url !== 'string') return { ok: false, reason: 'invalid' }
  if (claims.url !== objectUrl) return { ok: false, reason: 'wrong_object' }
  if (nowSeconds >= claims.exp) return { ok: false, reason: 'expired' }
  return { ok: true }
}
