import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { BIN, tempDir } from '../helpers/cli.js'
import { backends, type TestDb } from '../helpers/db.js'
import { insertDataset, insertJob } from '../jobs/fixtures.js'

const JOB = 'bfc44f88-1111-4000-8000-000000000001'
const postgres = backends.find((b) => b.name === 'postgres')!
const has = (shell: string) => spawnSync('sh', ['-c', `command -v ${shell}`]).status === 0

/** Each case: the words typed (the last being completed) and what the shell offers. */
type Case = [words: string[], expected: string[]]

/** Runs every case in one shell: `run` turns the words into that shell's completion call, printing one candidate a line, then `@@`. */
function drive(shell: string, setup: string, run: (words: string[]) => string, cases: Case[], env: Record<string, string>, cwd: string): string[][] {
  const script = [setup, ...cases.map(([words]) => `${run(words)}\nprintf '%s\\n' @@`)].join('\n')
  const out = execFileSync(shell, ['-c', script], { cwd, env, encoding: 'utf8', timeout: 60_000 })
  return out.split('@@\n').slice(0, cases.length).map((block) => block.split('\n').filter(Boolean).map((l) => l.split('\t')[0]!).sort())
}

const quote = (w: string) => `'${w}'`

describe('shell completion (the built binary, each shell driven by its completion function)', () => {
  let dir: { path: string; remove(): void }
  let db: TestDb | undefined
  let env: Record<string, string>
  let cases: Case[]

  beforeAll(async () => {
    dir = tempDir('lora-e2e-completion-')
    // `lora` on the PATH, as an installed one is.
    mkdirSync(join(dir.path, 'bin'))
    writeFileSync(join(dir.path, 'bin', 'lora'), `#!/bin/sh\nexec "${BIN}" "$@"\n`)
    chmodSync(join(dir.path, 'bin', 'lora'), 0o755)
    writeFileSync(join(dir.path, 'train-chats.jsonl'), '{}\n')
    env = { PATH: `${join(dir.path, 'bin')}:${process.env.PATH}`, HOME: dir.path, NO_COLOR: '1' }
    cases = [
      [['lora', 'jobs', 'sh'], ['show']],
      [['lora', 'jobs', 'submit', '--dataset', 'x', '--wa'], ['--watch']],
      [['lora', 'jobs', 'show', 'bfc44f88', '--js'], ['--json']],
      [['lora', 'jobs', 'submit', '--preset', ''], []],
      [['lora', 'datasets', 'upload', 'train-'], ['train-chats.jsonl']],
    ]
    if (postgres.available) {
      db = await postgres.open()
      await insertJob(db, { id: JOB, datasetId: await insertDataset(db) })
      env.DATABASE_URL = db.url!
      cases.push([['lora', 'jobs', 'cancel', 'bfc4'], [JOB]])
    } else {
      console.warn('shell completion: no Postgres server for the tests, so completing ids from the database is not tested here')
    }
  }, 60_000)
  afterAll(async () => {
    await db?.close()
    dir?.remove()
  })

  it('bash: skips flag values and arguments, completes files for datasets upload and ids from the database', () => {
    const got = drive(
      'bash',
      'source <(lora completion bash)',
      (words) => `COMP_WORDS=(${words.map(quote).join(' ')}); COMP_CWORD=${words.length - 1}; COMPREPLY=(); _lora; printf '%s\\n' "\${COMPREPLY[@]}"`,
      cases,
      env,
      dir.path,
    )
    expect(got).toEqual(cases.map(([, expected]) => expected))
  })

  it.skipIf(!has('zsh') && !process.env.CI)('zsh: the same, through its completion script', () => {
    const got = drive(
      'zsh',
      'autoload -U +X compinit && compinit -u -D; source <(lora completion zsh)',
      (words) => `COMP_WORDS=(${words.map(quote).join(' ')}); COMP_CWORD=${words.length - 1}; COMPREPLY=(); _lora; print -rl -- "\${COMPREPLY[@]}"`,
      cases,
      env,
      dir.path,
    )
    expect(got).toEqual(cases.map(([, expected]) => expected))
  })

  it.skipIf(!has('fish') && !process.env.CI)('fish: the same, through `complete -C`', () => {
    const got = drive('fish', 'lora completion fish | source', (words) => `complete -C ${quote(words.join(' '))}`, cases, env, dir.path)
    expect(got).toEqual(cases.map(([, expected]) => expected))
  })

  it('offers no ids when no database answers (an embedded profile with no stack), and says so quickly', () => {
    const started = Date.now()
    const out = execFileSync(BIN, ['completion', '--complete', '--', 'lora', 'jobs', 'show', ''], { cwd: dir.path, env: { ...env, DATABASE_URL: '' }, encoding: 'utf8' })
    expect(out).toBe('')
    expect(Date.now() - started).toBeLessThan(5_000)
  })
})

for (const shell of ['zsh', 'fish']) {
  // On CI (where .ci/run installs both) a missing shell fails its test instead.
  if (!has(shell) && !process.env.CI) console.warn(`shell completion: ${shell} is not installed, so its completion script is not tested (apt-get install -y ${shell})`)
}
