import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

type Verifier = (header: string, body: string, secret: string, now?: number) => boolean

/**
 * The webhook verifier exactly as README.md documents it (the code block after the
 * `webhook-verifier` marker), loaded as a module: the documentation is what is tested.
 */
export async function documentedVerifier(): Promise<Verifier> {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
  const block = /<!-- webhook-verifier -->\s*```js\n([\s\S]*?)```/.exec(readme)
  if (!block) throw new Error('README.md has no webhook verifier block')
  const dir = mkdtempSync(join(tmpdir(), 'lora-verifier-'))
  try {
    const file = join(dir, 'verify.mjs')
    writeFileSync(file, block[1]!)
    const module = (await import(pathToFileURL(file).href)) as { verifyLoraSignature: Verifier }
    return module.verifyLoraSignature
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
