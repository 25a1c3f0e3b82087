import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { openEmbedded } from '../../src/db/embedded.js'
import { migrate } from '../../src/db/migrate.js'
import { systemClock } from '../../src/clock.js'
import { copyMigratedEmbedded } from './db.js'
import type { Db } from '../../src/db/types.js'

/** An embedded stack under `root`, migrated, with one ready dataset of `user` in its folder storage; no service runs. */
export async function stackWithDataset(root: string, user: string): Promise<void> {
  mkdirSync(join(root, '.lora', 'storage', 'lora-datasets', user), { recursive: true })
  writeFileSync(join(root, '.lora', 'storage', 'lora-datasets', user, 'train.jsonl'), '{"prompt":"a","completion":"b"}\n')
  copyMigratedEmbedded(join(root, '.lora', 'db'))
  const db = await openEmbedded({ dir: join(root, '.lora', 'db'), serve: false, clock: systemClock })
  try {
    await migrate(db)
    await insertReadyDataset(db, user)
  } finally {
    await db.close()
  }
}

/** The ready dataset 'support-chats' of `user` (its file at lora-datasets/USER/train.jsonl). */
export async function insertReadyDataset(db: Db, user: string): Promise<void> {
  await db.query(
    `INSERT INTO datasets (user_id, name, format, status, storage_bucket, storage_path, file_size, total_training_pairs, total_tokens, validated_at)
     VALUES ($1, 'support-chats', 'completion', 'ready', 'lora-datasets', $2, 32, 1200, 200000, now())`,
    [user, `${user}/train.jsonl`],
  )
}
