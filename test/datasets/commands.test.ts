import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createHash, randomUUID } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { backends, type TestDb } from '../helpers/db.js'
import { testConfig, testContext, type TestContext } from '../helpers/context.js'
import { FakeClock } from '../../src/clock.js'
import { optionIssueToError } from '../../src/cli.js'
import { createPrompter, type Prompter } from '../../src/io/prompter.js'
import type { Storage } from '../../src/storage/types.js'
import * as upload from '../../commands/datasets-upload.js'
import * as list from '../../commands/datasets-list.js'
import * as show from '../../commands/datasets-show.js'
import * as del from '../../commands/datasets-delete.js'

/** Fixed ids for the flag tests; each database test takes users of its own. */
const USER_ID = '6f1c2b9e-3a4d-4e5f-8a7b-9c0d1e2f3a4b'
const UNKNOWN = '0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e'
const NOW = '2026-04-01T10:00:00.000Z'

interface Schema<T> {
  safeParse(input: unknown): { success: true; data: T } | { success: false; error: { issues: Parameters<typeof optionIssueToError>[0] } }
}
function parse<T>(schema: Schema<T>, input: Record<string, unknown>): T {
  const parsed = schema.safeParse({ json: false, ...input })
  if (!parsed.success) throw optionIssueToError(parsed.error.issues)
  return parsed.data
}

const chatLine = (i: number) =>
  JSON.stringify({ messages: [{ role: 'user', content: `question ${i}` }, { role: 'assistant', content: `answer ${i} ${'x'.repeat(i % 50)}` }] })
const chatFile = (records: number) => Array.from({ length: records }, (_, i) => chatLine(i)).join('\n') + '\n'

describe('datasets commands: flags', () => {
  it('refuses an unknown --format, a malformed --user, a bucket outside the two of datasets, a malformed id', () => {
    expect(() => parse(upload.Options, { args: 'a.jsonl', format: 'xml' })).toThrow('Invalid --format: expected one of chat, completion, instruction, got "xml".')
    expect(() => parse(upload.Options, { args: 'a.jsonl', user: 'bob' })).toThrow('Invalid --user: expected a user id (a UUID), got "bob".')
    expect(() => parse(upload.Options, { args: 'a.jsonl', bucket: 'lora-models' })).toThrow(
      'Invalid --bucket: expected lora-datasets or training-files, got "lora-models".',
    )
    expect(() => parse(show.Options, { args: '  ' })).toThrow('Invalid argument: expected a dataset id or name.')
    expect(() => parse(del.Options, { args: '' })).toThrow('Invalid argument: expected a dataset id or name.')
    expect(() => parse(list.Options, { status: 'done' })).toThrow('Invalid --status: expected one of uploading, validating, ready, failed, got "done".')
    expect(parse(upload.Options, { args: 'a.jsonl' })).toMatchObject({ bucket: 'lora-datasets', dryRun: false, force: false })
  })
})

for (const backend of backends) {
  describe.skipIf(!backend.available)(`datasets upload, list, show, delete on the folder storage (${backend.name})`, () => {
    // One database for the file (cloning one per test costs more than the tests):
    // each test has its own users and folder, and looks at its own rows only.
    let db: TestDb | undefined
    let work = ''
    let USER = ''
    let OTHER = ''
    const contexts: TestContext[] = []
    beforeAll(async () => {
      db = await backend.open()
    })
    afterAll(async () => {
      await db?.close()
    })
    afterEach(async () => {
      for (const t of contexts.splice(0)) await t.ctx.close()
      if (work) rmSync(work, { recursive: true, force: true })
    })

    async function setup() {
      USER = randomUUID()
      OTHER = randomUUID()
      work = mkdtempSync(join(tmpdir(), 'lora-datasets-'))
      return { db: db!, storageDir: join(work, '.lora', 'storage') }
    }
    function context(options: { signal?: AbortSignal; tty?: boolean; env?: Record<string, string>; prompter?: Prompter } = {}) {
      const t = testContext({
        db: db!,
        clock: new FakeClock(NOW),
        cwd: work,
        config: testConfig({}, join(work, '.lora')),
        env: { LORA_ACTOR: 'ops@test', ...options.env },
        ...(options.tty ? { tty: true } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.prompter ? { prompter: options.prompter } : {}),
      })
      contexts.push(t)
      return t
    }
    /** A context whose upload is interrupted (as by Ctrl-C) once 2 MB have been stored. */
    async function interruptedAt2MB() {
      const controller = new AbortController()
      const t = context({ signal: controller.signal })
      const storage = await t.ctx.storage()
      const realUpload = storage.upload.bind(storage)
      storage.upload = (bucket, path, source, options = {}) =>
        realUpload(bucket, path, source, {
          ...options,
          onProgress: (sent, total) => {
            options.onProgress?.(sent, total)
            if (sent >= 2 * 1024 * 1024) controller.abort()
          },
        })
      return t
    }
    const rows = () => db!.query<Record<string, unknown>>('SELECT * FROM datasets WHERE user_id = ANY($1::uuid[]) ORDER BY created_at, id', [[USER, OTHER]])

    it('validates, then uploads: uploading -> ready with statistics, validated_at and the object in place', async () => {
      await setup()
      const content = chatFile(40)
      writeFileSync(join(work, 'train data.jsonl'), content)
      const t = context()
      // The row is `uploading` while its bytes travel.
      const seen: string[] = []
      const storage = await t.ctx.storage()
      const realUpload = storage.upload.bind(storage)
      storage.upload = async (...args: Parameters<Storage['upload']>) => {
        seen.push(...(await rows()).map((r) => String(r.status)))
        return realUpload(...args)
      }
      expect(await upload.run(parse(upload.Options, { args: 'train data.jsonl', user: USER, name: 'support v1' }), t.ctx)).toBe(0)
      expect(seen).toEqual(['uploading'])
      const [row] = await rows()
      const id = String(row!.id)
      expect(t.stdout()).toBe(`${id}\n`)
      expect(t.stderr()).toBe('')
      expect(row).toMatchObject({
        user_id: USER,
        name: 'support v1',
        format: 'chat',
        status: 'ready',
        storage_bucket: 'lora-datasets',
        storage_path: `${USER}/${id}/train_data.jsonl`,
        file_size: Buffer.byteLength(content),
        sha256: createHash('sha256').update(content).digest('hex'),
        total_training_pairs: 40,
        training_ready: true,
        error_message: null,
        deleted_at: null,
      })
      expect(row!.total_tokens).toBeGreaterThan(0)
      expect(row!.validated_at).toEqual(new Date(NOW))
      expect(readFileSync(join(work, '.lora', 'storage', 'lora-datasets', USER, id, 'train_data.jsonl'), 'utf8')).toBe(content)
    })

    it('prints the report of an invalid file, exits 1, and writes no row and no object', async () => {
      const { storageDir } = await setup()
      writeFileSync(join(work, 'bad.jsonl'), `${chatLine(1)}\n{"messages": [}\n${JSON.stringify({ prompt: 'p', completion: 'c' })}\n`)
      const t = context()
      expect(await upload.run(parse(upload.Options, { args: 'bad.jsonl', user: USER }), t.ctx)).toBe(1)
      expect(t.stdout()).toBe('')
      expect(t.stderr()).toBe(
        [
          'error: bad.jsonl is not a valid dataset: 2 problems; nothing was uploaded.',
          `  line 2: is not valid JSON: unexpected token '}'`,
          '  line 3: is a completion record, but the file is in chat format: every line must be in the same format',
          'hint: the file was read as chat format (detected from its first records).',
          '',
        ].join('\n'),
      )
      expect(await rows()).toEqual([])
      expect(existsSync(storageDir)).toBe(false)

      const j = context()
      expect(await upload.run(parse(upload.Options, { args: 'bad.jsonl', user: USER, json: true }), j.ctx)).toBe(1)
      const out = JSON.parse(j.stdout())
      expect(out).toMatchObject({ outcome: 'invalid', dataset: null, validation: { valid: false, error_count: 2, format: 'chat' } })
      expect(out.validation.errors[0]).toEqual({ line: 2, kind: 'invalid_json', message: "is not valid JSON: unexpected token '}'" })
    })

    it('recognises the same content of the same user and does not upload it twice unless --force', async () => {
      await setup()
      writeFileSync(join(work, 'a.jsonl'), chatFile(5))
      writeFileSync(join(work, 'copy.jsonl'), chatFile(5))
      const first = context()
      await upload.run(parse(upload.Options, { args: 'a.jsonl', user: USER }), first.ctx)
      const id = first.stdout().trim()

      const again = context()
      expect(await upload.run(parse(upload.Options, { args: 'copy.jsonl', user: USER, json: true }), again.ctx)).toBe(0)
      expect(JSON.parse(again.stdout())).toMatchObject({ outcome: 'duplicate', dataset: { id, status: 'ready' } })
      expect(await rows()).toHaveLength(1)

      // Another user's identical file is theirs to upload.
      const other = context()
      await upload.run(parse(upload.Options, { args: 'a.jsonl', user: OTHER }), other.ctx)
      expect(await rows()).toHaveLength(2)

      const forced = context()
      await upload.run(parse(upload.Options, { args: 'a.jsonl', user: USER, force: true }), forced.ctx)
      expect(forced.stdout().trim()).not.toBe(id)
      expect((await rows()).filter((r) => r.user_id === USER && r.status === 'ready')).toHaveLength(2)
    })

    it('resumes an interrupted upload when run again: same row, from where the bytes stopped', async () => {
      const { storageDir } = await setup()
      const content = chatFile(60_000)
      expect(content.length).toBeGreaterThan(4 * 1024 * 1024)
      writeFileSync(join(work, 'big.jsonl'), content)
      const t = await interruptedAt2MB()
      await expect(upload.run(parse(upload.Options, { args: 'big.jsonl', user: USER }), t.ctx)).rejects.toThrow(/^Upload interrupted at 2\.0 MB of .*: dataset .* stays uploading; run the same command again to resume\.$/)
      const [interrupted] = await rows()
      expect(interrupted).toMatchObject({ status: 'uploading', validated_at: null })
      expect(readdirSync(join(storageDir, '.partial')).some((f) => f.endsWith('.part'))).toBe(true)

      const again = context()
      expect(await upload.run(parse(upload.Options, { args: 'big.jsonl', user: USER, json: true }), again.ctx)).toBe(0)
      const out = JSON.parse(again.stdout())
      expect(out).toMatchObject({ outcome: 'uploaded', dataset: { id: interrupted!.id, status: 'ready' } })
      expect(out.resumed_from).toBeGreaterThanOrEqual(2 * 1024 * 1024)
      expect(out.resumed_from).toBeLessThan(content.length)
      expect(await rows()).toHaveLength(1)
      const stored = readFileSync(join(storageDir, 'lora-datasets', String(interrupted!.storage_path)))
      expect(createHash('sha256').update(stored).digest('hex')).toBe(interrupted!.sha256)
    })

    it('prints its JSON object when interrupted with --json: outcome interrupted, where it stopped, exit 130', async () => {
      await setup()
      const content = chatFile(60_000)
      writeFileSync(join(work, 'big.jsonl'), content)
      const t = await interruptedAt2MB()
      const error = await upload.run(parse(upload.Options, { args: 'big.jsonl', user: USER, json: true }), t.ctx).catch((e: { exitCode: number }) => e)
      expect(error).toMatchObject({ exitCode: 130 })
      const [row] = await rows()
      const out = JSON.parse(t.stdout())
      expect(out).toEqual({ outcome: 'interrupted', dataset_id: row!.id, offset: expect.any(Number), file_size: Buffer.byteLength(content) })
      expect(out.offset).toBeGreaterThanOrEqual(2 * 1024 * 1024)
      expect(out.offset).toBeLessThan(Buffer.byteLength(content))
    })

    it('makes one dataset of two uploads of the same content at once', async () => {
      await setup()
      writeFileSync(join(work, 'same.jsonl'), chatFile(20_000))
      const a = context()
      const b = context()
      const results = await Promise.allSettled([
        upload.run(parse(upload.Options, { args: 'same.jsonl', user: USER, json: true }), a.ctx),
        upload.run(parse(upload.Options, { args: 'same.jsonl', user: USER, json: true }), b.ctx),
      ])
      const [row] = await rows()
      expect(await rows()).toHaveLength(1)
      expect(row!.status).toBe('ready')
      const outcomes = results.map((r, i) =>
        r.status === 'fulfilled' ? JSON.parse([a, b][i]!.stdout()).outcome : (r.reason as { code: string }).code,
      )
      // The second finds the first done (a duplicate) or still uploading (refused, its row left alone).
      // The reasons are printed on failure: a race lost here is a product bug to find, not noise.
      const reasons = results.map((r) => (r.status === 'rejected' ? (r.reason as Error).message : 'ok'))
      expect([['duplicate', 'uploaded'], ['upload_in_progress', 'uploaded']], reasons.join(' | ')).toContainEqual(outcomes.sort())
    })

    it('marks the row failed with the reason when the storage fails, and takes it up again on the next run', async () => {
      await setup()
      writeFileSync(join(work, 'f.jsonl'), chatFile(3))
      const t = context()
      const storage = await t.ctx.storage()
      storage.upload = async () => {
        throw new Error('No space left on device.')
      }
      const error = await upload.run(parse(upload.Options, { args: 'f.jsonl', user: USER }), t.ctx).catch((e: Error & { exitCode: number; hint: string }) => e)
      expect(error).toMatchObject({ exitCode: 1, hint: 'Run the same command again: the upload resumes where it stopped.' })
      const [failed] = await rows()
      expect((error as Error).message).toBe(`Upload of f.jsonl failed: No space left on device; dataset ${failed!.id} is marked failed.`)
      expect(failed).toMatchObject({ status: 'failed', error_message: 'No space left on device', training_ready: false })

      const retry = context()
      expect(await upload.run(parse(upload.Options, { args: 'f.jsonl', user: USER }), retry.ctx)).toBe(0)
      expect(await rows()).toEqual([expect.objectContaining({ id: failed!.id, status: 'ready', error_message: null })])
    })

    it('refuses a missing file, a directory and a missing --user without writing anything', async () => {
      await setup()
      mkdirSync(join(work, 'data'))
      const cases: [Record<string, unknown>, Record<string, string>, string][] = [
        [{ args: 'nope.jsonl', user: USER }, {}, 'No such file: nope.jsonl.'],
        [{ args: 'data', user: USER }, {}, 'data is a directory, not a JSONL file.'],
        [{ args: 'nope.jsonl' }, {}, "Missing --user: pass --user UUID (the dataset's owner), or set LORA_USER_ID; lora has no login to take it from."],
        [{ args: 'nope.jsonl' }, { LORA_USER_ID: 'someone' }, 'LORA_USER_ID is not a user id (a UUID): "someone".'],
      ]
      for (const [input, env, message] of cases) {
        const t = context({ env })
        await expect(upload.run(parse(upload.Options, input), t.ctx)).rejects.toMatchObject({ message, exitCode: 2 })
      }
      expect(await rows()).toEqual([])
    })

    it('validates only with --dry-run, without a user, a row or storage', async () => {
      await setup()
      writeFileSync(join(work, 'd.jsonl'), chatFile(4))
      const t = context()
      expect(await upload.run(parse(upload.Options, { args: 'd.jsonl', dryRun: true }), t.ctx)).toBe(0)
      expect(t.stdout()).toContain('records\t4\n')
      expect(t.stderr()).toContain('dry run: nothing uploaded, no row written; it would go to lora-datasets/<user>/<new id>/d.jsonl')
      expect(await rows()).toEqual([])
      expect(existsSync(join(work, '.lora', 'storage'))).toBe(false)
    })

    it('takes the owner from LORA_USER_ID and uploads to training-files when asked', async () => {
      await setup()
      writeFileSync(join(work, 'i.jsonl'), `${JSON.stringify({ instruction: 'say hi', output: 'hi' })}\n`)
      const t = context({ env: { LORA_USER_ID: USER } })
      await upload.run(parse(upload.Options, { args: 'i.jsonl', bucket: 'training-files' }), t.ctx)
      expect(await rows()).toEqual([expect.objectContaining({ user_id: USER, format: 'instruction', storage_bucket: 'training-files', total_training_pairs: 1 })])
      expect(existsSync(join(work, '.lora', 'storage', 'training-files', USER))).toBe(true)
    })

    it('lists by user and status, as TSV when piped and with stable --json fields', async () => {
      await setup()
      writeFileSync(join(work, 'a.jsonl'), chatFile(2))
      writeFileSync(join(work, 'b.jsonl'), chatFile(3))
      await upload.run(parse(upload.Options, { args: 'a.jsonl', user: USER }), context().ctx)
      await upload.run(parse(upload.Options, { args: 'b.jsonl', user: OTHER }), context().ctx)
      const t = context()
      await list.run(parse(list.Options, { user: USER }), t.ctx)
      const [header, ...lines] = t.stdout().trim().split('\n')
      expect(header).toBe('id\tname\tuser\tstatus\tformat\tpairs\ttokens\tsize\tbucket\tcreated')
      expect(lines).toHaveLength(1)
      expect(lines[0]).toContain(`\ta.jsonl\t${USER}\tready\tchat\t2\t`)
      const j = context()
      await list.run(parse(list.Options, { json: true, status: 'ready' }), j.ctx)
      const datasets = JSON.parse(j.stdout()).datasets.filter((d: { user_id: string }) => d.user_id === USER || d.user_id === OTHER)
      expect(datasets).toHaveLength(2)
      expect(Object.keys(datasets[0])).toEqual([
        'id', 'user_id', 'name', 'format', 'status', 'storage_bucket', 'storage_path', 'file_size', 'sha256',
        'total_training_pairs', 'total_tokens', 'training_ready', 'error_message', 'validated_at', 'created_at', 'updated_at', 'deleted_at',
      ])
      const none = context()
      await list.run(parse(list.Options, { json: true, status: 'failed', user: USER }), none.ctx)
      expect(JSON.parse(none.stdout())).toEqual({ datasets: [] })
    })

    it('shows a dataset with its jobs and whether its object is there; says an unknown id is unknown', async () => {
      const { storageDir } = await setup()
      writeFileSync(join(work, 'a.jsonl'), chatFile(2))
      const up = context()
      await upload.run(parse(upload.Options, { args: 'a.jsonl', user: USER }), up.ctx)
      const id = up.stdout().trim()
      await db!.query(`INSERT INTO training_jobs (user_id, dataset_id, status) VALUES ($1, $2, 'completed')`, [USER, id])
      const t = context()
      expect(await show.run(parse(show.Options, { args: id, json: true }), t.ctx)).toBe(0)
      expect(JSON.parse(t.stdout())).toMatchObject({ dataset: { id, status: 'ready' }, jobs: { total: 1, active: 0 }, object: { exists: true } })

      const [row] = await rows()
      rmSync(join(storageDir, 'lora-datasets', String(row!.storage_path)))
      const missing = context()
      expect(await show.run(parse(show.Options, { args: id }), missing.ctx)).toBe(0)
      expect(missing.stdout()).toContain('object check\tMISSING from storage\n')
      expect(missing.stderr()).toBe(`warning: dataset ${id} is ready but its object lora-datasets/${row!.storage_path} is missing from storage: jobs on it will fail.\n`)

      await expect(show.run(parse(show.Options, { args: UNKNOWN }), context().ctx)).rejects.toMatchObject({
        message: `No dataset has id ${UNKNOWN}.`,
        exitCode: 1,
      })
    })

    it('deletes: refused without --yes off a terminal; then the row soft-deleted, the object removed, the audit written', async () => {
      const { storageDir } = await setup()
      writeFileSync(join(work, 'a.jsonl'), chatFile(2))
      const up = context()
      await upload.run(parse(upload.Options, { args: 'a.jsonl', user: USER }), up.ctx)
      const id = up.stdout().trim()
      const [row] = await rows()
      const object = join(storageDir, 'lora-datasets', String(row!.storage_path))

      await expect(del.run(parse(del.Options, { args: id }), context().ctx)).rejects.toMatchObject({
        message: 'Deleting a dataset needs --yes without a terminal.',
        exitCode: 2,
      })
      const dry = context()
      expect(await del.run(parse(del.Options, { args: id, dryRun: true }), dry.ctx)).toBe(0)
      expect(dry.stderr()).toBe(`dry run: would delete dataset a.jsonl (${id}, ready, 195 B) and remove its object lora-datasets/${row!.storage_path}; nothing changed.\n`)
      expect((await rows())[0]!.deleted_at).toBeNull()
      expect(existsSync(object)).toBe(true)

      const t = context()
      expect(await del.run(parse(del.Options, { args: id, yes: true }), t.ctx)).toBe(0)
      expect(t.stdout()).toBe(`deleted dataset ${id} and removed lora-datasets/${row!.storage_path}\n`)
      expect((await rows())[0]).toMatchObject({ deleted_at: new Date(NOW), training_ready: false })
      expect(existsSync(object)).toBe(false)
      const audit = await db!.query('SELECT actor, action, target, count, details FROM lora_ops.audit_log WHERE target = $1', [id])
      expect(audit).toEqual([
        {
          actor: 'ops@test',
          action: 'datasets.delete',
          target: id,
          count: 1,
          details: { name: 'a.jsonl', user_id: USER, object: `lora-datasets/${row!.storage_path}`, file_size: 195, status: 'ready' },
        },
      ])
      // Deleted datasets leave the list, and deleting again has nothing to do.
      const after = context()
      await list.run(parse(list.Options, { json: true, user: USER }), after.ctx)
      expect(JSON.parse(after.stdout())).toEqual({ datasets: [] })
      const withDeleted = context()
      await list.run(parse(list.Options, { json: true, user: USER, deleted: true }), withDeleted.ctx)
      expect(JSON.parse(withDeleted.stdout()).datasets).toEqual([expect.objectContaining({ id, deleted_at: NOW })])
      const again = context()
      expect(await del.run(parse(del.Options, { args: id, yes: true }), again.ctx)).toBe(0)
      expect(again.stderr()).toContain('was already deleted on 2026-04-01T10:00:00.000Z; its object is gone too. Nothing to do.')
      await expect(del.run(parse(del.Options, { args: UNKNOWN, yes: true }), context().ctx)).rejects.toMatchObject({ message: `No dataset has id ${UNKNOWN}.`, exitCode: 1 })
    })

    it('refuses to delete a dataset a queued or running job trains on, changing nothing', async () => {
      const { storageDir } = await setup()
      writeFileSync(join(work, 'a.jsonl'), chatFile(2))
      const up = context()
      await upload.run(parse(upload.Options, { args: 'a.jsonl', user: USER }), up.ctx)
      const id = up.stdout().trim()
      const [job] = await db!.query<{ id: string }>(`INSERT INTO training_jobs (user_id, dataset_id, status) VALUES ($1, $2, 'running') RETURNING id`, [USER, id])
      await expect(del.run(parse(del.Options, { args: id, yes: true }), context().ctx)).rejects.toMatchObject({
        message: `Dataset a.jsonl (${id}) is used by running job ${job!.id}: it cannot be deleted while it trains.`,
        exitCode: 1,
      })
      expect((await rows())[0]!.deleted_at).toBeNull()
      expect(readdirSync(join(storageDir, 'lora-datasets', USER))).toHaveLength(1)
      expect(await db!.query('SELECT 1 FROM lora_ops.audit_log WHERE target = $1', [id])).toEqual([])
    })

    it('says so in the row when the object cannot be removed, and finishes on the next run', async () => {
      const { storageDir } = await setup()
      writeFileSync(join(work, 'a.jsonl'), chatFile(2))
      const up = context()
      await upload.run(parse(upload.Options, { args: 'a.jsonl', user: USER }), up.ctx)
      const id = up.stdout().trim()
      const t = context()
      const storage = await t.ctx.storage()
      storage.remove = async () => {
        throw new Error('storage unreachable')
      }
      await expect(del.run(parse(del.Options, { args: id, yes: true }), t.ctx)).rejects.toMatchObject({ exitCode: 1, code: 'object_not_removed' })
      const [row] = await rows()
      expect(row!.deleted_at).not.toBeNull()
      expect(row!.error_message).toBe(`Deleted, but its object lora-datasets/${row!.storage_path} could not be removed: storage unreachable.`)
      expect(existsSync(join(storageDir, 'lora-datasets', String(row!.storage_path)))).toBe(true)

      const again = context()
      expect(await del.run(parse(del.Options, { args: id, yes: true }), again.ctx)).toBe(0)
      expect(again.stdout()).toBe(`removed the object lora-datasets/${row!.storage_path} left behind by deleted dataset ${id}\n`)
      expect(existsSync(join(storageDir, 'lora-datasets', String(row!.storage_path)))).toBe(false)
      expect((await rows())[0]!.error_message).toBeNull()
    })

    it('asks at a terminal, and deletes nothing when the answer is no', async () => {
      await setup()
      writeFileSync(join(work, 'a.jsonl'), chatFile(2))
      const up = context()
      await upload.run(parse(upload.Options, { args: 'a.jsonl', user: USER }), up.ctx)
      const id = up.stdout().trim()
      const answer = (keys: string) => {
        const input = new PassThrough()
        const output = new PassThrough()
        output.on('data', (chunk: Buffer) => {
          if (chunk.toString().includes('Delete it?')) setImmediate(() => input.write(keys))
        })
        return createPrompter({ input, output })
      }
      const no = context({ tty: true, prompter: answer('n\r') })
      expect(await del.run(parse(del.Options, { args: id }), no.ctx)).toBe(1)
      expect(no.stderr()).toContain('Nothing deleted.')
      expect((await rows())[0]!.deleted_at).toBeNull()
      const yes = context({ tty: true, prompter: answer('y\r') })
      expect(await del.run(parse(del.Options, { args: id }), yes.ctx)).toBe(0)
      expect((await rows())[0]!.deleted_at).not.toBeNull()
    })
  })
}
