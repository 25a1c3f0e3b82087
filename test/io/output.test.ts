import { describe, expect, it } from 'vitest'
import { createTestIO } from '../../src/io/streams.js'
import { printFields, printTable } from '../../src/io/output.js'
import { registerSecret, clearSecrets, redact } from '../../src/redact.js'
import { createContext } from '../../src/context.js'
import { backends } from '../helpers/db.js'

const rows = [
  { id: 'a1', cost: 1.5, at: new Date('2026-01-02T03:04:05Z') },
  { id: 'b2', cost: null, at: new Date('2026-01-03T00:00:00Z') },
]
const columns = [
  { header: 'Id', value: (r: (typeof rows)[number]) => r.id },
  { header: 'Cost', value: (r: (typeof rows)[number]) => r.cost, align: 'right' as const },
  { header: 'Created at', value: (r: (typeof rows)[number]) => r.at },
]

describe('output', () => {
  it('prints tab-separated values with ISO timestamps and no colour when piped', async () => {
    const t = createTestIO({ tty: false })
    await printTable(t.io, columns, rows)
    expect(t.stdout()).toBe('id\tcost\tcreated_at\na1\t1.5\t2026-01-02T03:04:05.000Z\nb2\t\t2026-01-03T00:00:00.000Z\n')
    expect(t.stderr()).toBe('')
  })

  it('draws a table on a terminal, and without colour codes under NO_COLOR', async () => {
    const t = createTestIO({ tty: true })
    await printTable(t.io, columns, rows)
    expect(t.stdout()).toContain('Created at')
    expect(t.stdout()).toContain('2026-01-02 03:04:05Z')
    const plain = createTestIO({ tty: true, env: { NO_COLOR: '1' } })
    await printTable(plain.io, columns, rows)
    expect(plain.stdout()).not.toMatch(/\x1b\[/)
    expect(plain.stdout()).toContain('│ a1')
  })

  it('fits a terminal table to the width: ids short, details left out, the longest cells cut with …; --wide and pipes keep everything', async () => {
    const id = 'bfc44f88-1111-4000-8000-000000000001'
    const long = [{ id, user: '6f1c2b9e-3a4d-4e5f-8a7b-9c0d1e2f3a4b', status: 'failed', message: 'dataset download failed: HTTP 403 from storage while fetching lora-datasets/6f1c2b9e/train.jsonl' }]
    type Row = (typeof long)[number]
    const cols = [
      { header: 'ID', value: (r: Row) => r.id, id: true },
      { header: 'User', value: (r: Row) => r.user, id: true, detail: true },
      { header: 'Status', value: (r: Row) => r.status },
      { header: 'Message', value: (r: Row) => r.message },
    ]
    const narrow = createTestIO({ tty: true, columns: 80, env: { NO_COLOR: '1' } })
    await printTable(narrow.io, cols, long)
    const lines = narrow.stdout().trimEnd().split('\n')
    expect(Math.max(...lines.map((l) => l.length))).toBe(80)
    expect(lines[3]).toBe('│ bfc44f88 │ 6f1c2b9e │ failed │ dataset download failed: HTTP 403 from stora… │')
    // COLUMNS wins over the terminal's width; too narrow for the details, they go.
    const env = createTestIO({ tty: true, columns: 200, env: { NO_COLOR: '1', COLUMNS: '50' } })
    await printTable(env.io, cols, long)
    expect(env.stdout().split('\n')[3]).toBe('│ bfc44f88 │ failed │ dataset download failed: … │')
    const wide = createTestIO({ tty: true, columns: 80, wide: true, env: { NO_COLOR: '1' } })
    await printTable(wide.io, cols, long)
    expect(wide.stdout().split('\n')[3]).toBe(`│ ${id} │ ${long[0]!.user} │ failed │ ${long[0]!.message} │`)
    const piped = createTestIO({ columns: 80, env: { COLUMNS: '80' } })
    await printTable(piped.io, cols, long)
    expect(piped.stdout()).toBe(`id\tuser\tstatus\tmessage\n${id}\t${long[0]!.user}\tfailed\t${long[0]!.message}\n`)
  })

  it('redacts secrets in every stream and in JSON', () => {
    registerSecret('sk-live-abcdef')
    try {
      const t = createTestIO()
      t.io.out('key=sk-live-abcdef')
      t.io.err('url https://x.test/o?token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.sig and Bearer abc.def')
      t.io.json({ nested: { url: 'postgres://u:pw@h/db', key: 'sk-live-abcdef' } })
      expect(t.stdout()).toBe('key=***\n{\n  "nested": {\n    "url": "postgres://u:***@h/db",\n    "key": "***"\n  }\n}\n')
      expect(t.stderr()).toBe('url https://x.test/o?token=*** and Bearer ***\n')
    } finally {
      clearSecrets()
    }
  })

  it('redacts the whole of a secret that contains another, in whatever order they became known', () => {
    for (const order of [['k-123456', 'sk-123456-live'], ['sk-123456-live', 'k-123456']]) {
      registerSecret(order[0])
      try {
        expect(redact('keys sk-123456-live and k-123456', { secrets: [order[1]] })).toBe('keys *** and ***')
      } finally {
        clearSecrets()
      }
    }
  })

  it('aligns fields on a terminal and tab-separates them when piped', () => {
    const piped = createTestIO()
    printFields(piped.io, [['status', 'running'], ['progress', 42]])
    expect(piped.stdout()).toBe('status\trunning\nprogress\t42\n')
    const tty = createTestIO({ tty: true })
    printFields(tty.io, [['status', 'running'], ['progress', 42]])
    expect(tty.stdout()).toBe('status    running\nprogress  42\n')
  })

  it('prompts only on a terminal outside CI', () => {
    expect(createTestIO({ tty: true }).io.canPrompt).toBe(true)
    expect(createTestIO({ tty: true, env: { CI: 'true' } }).io.canPrompt).toBe(false)
    expect(createTestIO({ tty: false }).io.canPrompt).toBe(false)
  })
})

describe('the context', () => {
  it('refuses a database whose schema is behind, with exit code 2 and the command to run', async () => {
    const db = await backends[0]!.open({ migrated: false })
    try {
      const ctx = createContext({ io: createTestIO().io, db })
      await expect(ctx.db()).rejects.toMatchObject({
        message: 'The database has no lora schema yet.',
        exitCode: 2,
        hint: 'Run `lora db migrate`.',
      })
      // The raw handle is still there for `lora db migrate` itself.
      expect(await ctx.rawDb()).toBe(db)
    } finally {
      await db.close()
    }
  })
})
