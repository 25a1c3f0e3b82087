import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { runLora, tempDir } from '../helpers/cli.js'
import { startLora, stopLoraProcesses, type LoraProcess } from '../helpers/lora-process.js'
import { FolderStorage } from '../../src/storage/folder.js'
import { FakeClock } from '../../src/clock.js'
import { copyMigratedEmbedded } from '../helpers/db.js'

const USER = '6f1c2b9e-3a4d-4e5f-8a7b-9c0d1e2f3a4b'
const chatLine = (i: number) =>
  JSON.stringify({ messages: [{ role: 'system', content: 'You answer briefly.' }, { role: 'user', content: `What is ${i} + ${i}?` }, { role: 'assistant', content: `${2 * i}.` }] })

describe('datasets commands (the built binary, embedded stack)', () => {
  const workspace = tempDir('lora-e2e-datasets-')
  const cwd = workspace.path
  const lora = (args: string[], env: Record<string, string> = {}) => runLora(args, { cwd, env: { LORA_ACTOR: 'e2e@test', LORA_EMBEDDED_WAIT: '5s', ...env } })
  // The embedded stack held by `lora local start`, as in a second terminal: each
  // command then uses its database over the socket instead of opening it.
  let stack: LoraProcess | undefined
  beforeAll(async () => {
    writeFileSync(join(cwd, 'train.jsonl'), Array.from({ length: 100 }, (_, i) => chatLine(i)).join('\n') + '\n')
    writeFileSync(join(cwd, 'bad.jsonl'), `${chatLine(1)}\n{"messages": [{"role": "bot", "content": "hi"}]}\n`)
    writeFileSync(join(cwd, 'train.jsonl.gz'), gzipSync(chatLine(1)))
    mkdirSync(join(cwd, 'folder'))
    // A migrated database already (creating one is e2e/cli.test.ts's subject, and takes seconds).
    copyMigratedEmbedded(join(cwd, '.lora', 'db'))
    stack = startLora(['local', 'start'], { cwd })
    await stack.waitFor('stdout', /other terminals/)
  })
  afterAll(async () => {
    // Ctrl-C as a user would; anything still running after that is killed.
    await stack?.stop('SIGINT')
    await stopLoraProcesses()
    workspace.remove()
  })

  it('uploads, lists and deletes a dataset, as a script would use them', async () => {
    const up = await lora(['datasets', 'upload', 'train.jsonl', '--user', USER, '--name', 'arithmetic'])
    expect(up.stderr).toBe('')
    expect(up.code).toBe(0)
    const id = up.stdout.trim()
    expect(id).toMatch(/^[0-9a-f-]{36}$/)

    const listed = await lora(['datasets', 'list', '--json'])
    expect(listed.code).toBe(0)
    expect(JSON.parse(listed.stdout).datasets).toEqual([
      expect.objectContaining({ id, name: 'arithmetic', status: 'ready', format: 'chat', total_training_pairs: 100, storage_bucket: 'lora-datasets' }),
    ])
    const object = join(cwd, '.lora', 'storage', 'lora-datasets', JSON.parse(listed.stdout).datasets[0].storage_path)
    expect(existsSync(object)).toBe(true)

    const refused = await lora(['datasets', 'delete', id])
    expect(refused).toEqual({ code: 2, stdout: '', stderr: 'error: Deleting a dataset needs --yes without a terminal.\nhint: Or --dry-run to see what it would do.\n' })
    const deleted = await lora(['datasets', 'delete', id, '--yes', '--json'])
    expect(deleted.code).toBe(0)
    expect(JSON.parse(deleted.stdout)).toMatchObject({ id, already_deleted: false, object_removed: true, dry_run: false })
    expect(existsSync(object)).toBe(false)
  })

  it("serves the folder storage's signed URLs from the process holding the stack, until they expire", async () => {
    const up = await lora(['datasets', 'upload', 'train.jsonl', '--user', USER, '--name', 'signed', '--force', '--json'])
    const { dataset } = JSON.parse(up.stdout)
    const storageDir = join(cwd, '.lora', 'storage')
    const served = JSON.parse(readFileSync(join(storageDir, '.server.json'), 'utf8'))
    expect(served.pid).toBe(stack!.child.pid)
    // Any process on this folder signs; the stack's server checks and serves, on the
    // wall clock. Signed by a clock set back: one URL has 30 s left, the other ran out
    // 30 s ago, so neither rides on a second boundary or a sleep.
    const signer = new FakeClock(Date.now() - 30_000)
    const storage = new FolderStorage(storageDir, signer)
    const url = await storage.signedUrl(dataset.storage_bucket, dataset.storage_path, 60)
    signer.set(Date.now() - 90_000)
    const stale = await storage.signedUrl(dataset.storage_bucket, dataset.storage_path, 60)
    await storage.close()
    expect(url.startsWith(`${served.url}/storage/v1/object/sign/lora-datasets/`)).toBe(true)
    expect(stale.startsWith(`${served.url}/storage/v1/object/sign/lora-datasets/`)).toBe(true)
    const ok = await fetch(url)
    expect(ok.status).toBe(200)
    expect(await ok.text()).toBe(readFileSync(join(cwd, 'train.jsonl'), 'utf8'))
    const expired = await fetch(stale)
    expect(expired.status).toBe(403)
    expect(await expired.json()).toEqual({ statusCode: '403', error: 'InvalidJWT', message: 'jwt expired' })
  })

  it('refuses an invalid file with its report, exit 1, and uploads nothing', async () => {
    const r = await lora(['datasets', 'upload', 'bad.jsonl', '--user', USER])
    expect(r.code).toBe(1)
    expect(r.stdout).toBe('')
    expect(r.stderr).toContain('error: bad.jsonl is not a valid dataset: 1 problem; nothing was uploaded.\n  line 2: message 1 has role "bot": roles are system, user and assistant\n')
    const gz = await lora(['datasets', 'upload', 'train.jsonl.gz', '--user', USER])
    expect(gz).toMatchObject({ code: 1, stdout: '' })
    expect(gz.stderr).toBe('error: train.jsonl.gz is not a valid dataset: the file is gzip-compressed, not JSONL: decompress it first (gunzip -k FILE); nothing was uploaded.\n')
  })

  it('answers bad input with one sentence and the documented exit code', async () => {
    const cases: [string[], number, string][] = [
      [['datasets', 'upload', 'missing.jsonl', '--user', USER], 2, 'error: No such file: missing.jsonl.\n'],
      [['datasets', 'upload', 'folder', '--user', USER], 2, 'error: folder is a directory, not a JSONL file.\n'],
      [['datasets', 'upload', 'train.jsonl', '--user', USER, '--format', 'alpaca'], 2, 'error: Invalid --format: expected one of chat, completion, instruction, got "alpaca".\n'],
      [['datasets', 'upload', 'train.jsonl', '--user', 'alice'], 2, 'error: Invalid --user: expected a user id (a UUID), got "alice".\n'],
      [['datasets', 'upload', 'train.jsonl'], 2, "error: Missing --user: pass --user UUID (the dataset's owner), or set LORA_USER_ID; lora has no login to take it from.\n"],
      [['datasets', 'show', '00000000-0000-0000-0000-000000000042'], 1, 'error: No dataset has id 00000000-0000-0000-0000-000000000042.\nhint: List them with `lora datasets list`.\n'],
      [['datasets', 'show', 'latest'], 1, 'error: No dataset is named "latest".\nhint: List them with `lora datasets list`.\n'],
      [['datasets', 'show', 'ab'], 2, 'error: No dataset is named "ab", and a dataset id prefix needs at least 4 characters.\n'],
    ]
    for (const [args, code, stderr] of cases) {
      expect({ args, ...(await lora(args)) }).toEqual({ args, code, stdout: '', stderr })
    }
  })

  it('validates a large file with worker threads in the bundle (--dry-run touches no database)', async () => {
    // Over 8 MB, so the validation runs in worker threads built from the bundled code.
    const lines = Array.from({ length: 60_000 }, (_, i) => chatLine(i))
    lines[45_000] = '{"messages": "oops"}'
    writeFileSync(join(cwd, 'large.jsonl'), lines.join('\n') + '\n')
    const r = await lora(['datasets', 'upload', 'large.jsonl', '--dry-run', '--json'], { LORA_VALIDATE_THREADS: '2' })
    expect(r.code).toBe(1)
    const { validation } = JSON.parse(r.stdout)
    expect(validation).toMatchObject({ valid: false, threads: 2, records: 59_999, error_count: 1 })
    expect(validation.bytes).toBeGreaterThan(8 * 1024 * 1024)
    expect(validation.errors).toEqual([{ line: 45_001, kind: 'invalid_messages', message: 'field "messages" is a string, not an array of messages' }])
  })
})
