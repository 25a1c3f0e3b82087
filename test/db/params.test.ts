import { afterEach, describe, expect, it } from 'vitest'
import { backends, type TestDb } from '../helpers/db.js'

for (const backend of backends) {
  describe.skipIf(!backend.available)(`parameters on ${backend.name}`, () => {
    let db: TestDb | undefined
    afterEach(async () => {
      await db?.close()
      db = undefined
    })
    it('binds arrays of objects as jsonb records, arrays of dates, text arrays and nulls', async () => {
      db = await backend.open({ migrated: false })
      const rows = await db.query<{ id: number; name: string }>(
        `SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(id int, name text) ORDER BY id`,
        [[{ id: 2, name: 'b' }, { id: 1, name: "o'neil" }]],
      )
      expect(rows).toEqual([{ id: 1, name: "o'neil" }, { id: 2, name: 'b' }])
      const [dates] = await db.query<{ n: number }>(`SELECT cardinality($1::timestamptz[]) AS n`, [[new Date(0), new Date(1000)]])
      expect(dates!.n).toBe(2)
      const [texts] = await db.query<{ v: string[] }>(`SELECT $1::text[] AS v`, [['a', 'b,c', 'd"e']])
      expect(texts!.v).toEqual(['a', 'b,c', 'd"e'])
      const [empty] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM jsonb_to_recordset($1::jsonb) AS x(id int)`, [[]])
      expect(empty!.n).toBe(0)
      const [nul] = await db.query<{ v: null }>(`SELECT $1::text AS v`, [undefined])
      expect(nul!.v).toBeNull()
    })
  })
}
