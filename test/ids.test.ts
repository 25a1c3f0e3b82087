import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { backends, type TestDb } from './helpers/db.js'
import { insertDataset, insertJob, OTHER_USER, USER } from './jobs/fixtures.js'
import { optionIssueToError } from '../src/cli.js'
import { prefixRange, resolveDatasetId, resolveJobId } from '../src/ids.js'
import { jobRef } from '../src/flags.js'

const JOB_A = 'bfc44f88-1111-4000-8000-000000000001'
const JOB_B = 'bfc44f88-2222-4000-8000-000000000002'
const JOB_C = 'c0ffee00-3333-4000-8000-000000000003'

describe('ids: the flag schema and the range of a prefix', () => {
  const parse = (raw: string) => {
    const parsed = jobRef.safeParse(raw)
    if (!parsed.success) throw optionIssueToError([{ ...parsed.error.issues[0]!, path: ['args'] }])
    return parsed.data
  }

  it('takes a full id or 4+ characters of one, and refuses anything shorter or shaped otherwise (exit 2)', () => {
    expect(parse('BFC4')).toBe('bfc4')
    expect(parse(JOB_A.toUpperCase())).toBe(JOB_A)
    expect(parse('bfc44f88-1')).toBe('bfc44f88-1')
    expect(() => parse('bfc')).toThrow('Invalid argument: a job id prefix needs at least 4 characters (got "bfc").')
    expect(() => parse('bfc4-4f88')).toThrow('Invalid argument: expected a job id (a UUID, or its first 4 or more characters), got "bfc4-4f88".')
    expect(() => parse('latest')).toThrow('Invalid argument: expected a job id (a UUID, or its first 4 or more characters), got "latest".')
  })

  it('turns a prefix into the lowest and highest UUIDs that start with it', () => {
    expect(prefixRange('bfc44f88-1')).toEqual(['bfc44f88-1000-0000-0000-000000000000', 'bfc44f88-1fff-ffff-ffff-ffffffffffff'])
    expect(prefixRange('ABCD')).toEqual(['abcd0000-0000-0000-0000-000000000000', 'abcdffff-ffff-ffff-ffff-ffffffffffff'])
  })
})

for (const backend of backends) {
  describe.skipIf(!backend.available)(`ids: resolving prefixes and names (${backend.name})`, () => {
    let db: TestDb
    let datasetId = ''
    beforeAll(async () => {
      db = await backend.open()
      datasetId = await insertDataset(db, { name: 'support-chats' })
      await insertDataset(db, { name: 'twins' })
      await insertDataset(db, { name: 'twins' })
      await insertDataset(db, { name: 'support-chats', userId: OTHER_USER })
      for (const id of [JOB_A, JOB_B, JOB_C]) await insertJob(db, { id, datasetId })
    })
    afterAll(async () => {
      await db?.close()
    })

    it('resolves a unique job prefix, lists the matches of an ambiguous one (exit 2), and finds nothing for an unknown one (exit 1)', async () => {
      expect(await resolveJobId(db, 'c0ff')).toBe(JOB_C)
      expect(await resolveJobId(db, 'bfc44f88-2')).toBe(JOB_B)
      expect(await resolveJobId(db, JOB_A)).toBe(JOB_A)
      const ambiguous = await resolveJobId(db, 'bfc4').catch((e: unknown) => e)
      expect(ambiguous).toMatchObject({
        exitCode: 2,
        code: 'ambiguous_id',
        message: `The job id prefix "bfc4" matches 2 jobs:\n  ${JOB_A}  queued  created 2026-03-10T12:00:00.000Z\n  ${JOB_B}  queued  created 2026-03-10T12:00:00.000Z`,
        hint: 'Pass more characters of the id.',
      })
      await expect(resolveJobId(db, 'dead')).rejects.toMatchObject({ exitCode: 1, message: 'No training job has an id starting with "dead".' })
    })

    it('resolves a dataset by id prefix or by name, one user\'s or everyone\'s, and refuses ambiguity and short prefixes (exit 2)', async () => {
      expect(await resolveDatasetId(db, datasetId.slice(0, 6))).toBe(datasetId)
      expect(await resolveDatasetId(db, 'support-chats', { userId: USER })).toBe(datasetId)
      await expect(resolveDatasetId(db, 'support-chats')).rejects.toMatchObject({ exitCode: 2, code: 'ambiguous_id', message: expect.stringMatching(/^"support-chats" matches 2 datasets:\n {2}[0-9a-f-]{36} {2}support-chats {2}ready\n/) })
      await expect(resolveDatasetId(db, 'twins', { userId: USER })).rejects.toMatchObject({ exitCode: 2, code: 'ambiguous_id' })
      await expect(resolveDatasetId(db, 'abc')).rejects.toMatchObject({ exitCode: 2, message: 'No dataset is named "abc", and a dataset id prefix needs at least 4 characters.' })
      await expect(resolveDatasetId(db, 'nothing', { userId: USER })).rejects.toMatchObject({ exitCode: 1, message: `User ${USER} has no dataset named "nothing".` })
    })

    // The plan is Postgres's: PGlite answers the same SQL, but the index question is the server's.
    if (backend.name === 'postgres') it('looks a prefix up by a range on the primary key, which its index answers', async () => {
      const [low, high] = prefixRange('bfc4')
      // Off, so that the planner shows whether the index can answer at all (a table this small it would read whole).
      const plan = await db.transaction(async (tx) => {
        await tx.query('SET LOCAL enable_seqscan = off')
        return tx.query<{ 'QUERY PLAN': string }>(`EXPLAIN SELECT id FROM training_jobs WHERE id BETWEEN $1::uuid AND $2::uuid`, [low, high])
      })
      expect(plan.map((r) => r['QUERY PLAN']).join('\n')).toMatch(/Index (Only )?Scan using training_jobs_pkey/)
    })
  })
}
