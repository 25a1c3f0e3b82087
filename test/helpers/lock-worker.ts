/**
 * A process that races for a lock when told to (one line on stdin: `go db PATH`
 * or `go partial PATH`), answers `owner` or `busy`, and releases on `release`.
 * Bundled and run by test/lockfile.test.ts, twenty at once.
 */
import { createInterface } from 'node:readline'
import { tryLock } from '../../src/lockfile.js'
import { lockPartial } from '../../src/storage/folder.js'

let release: (() => Promise<void>) | undefined
const say = (line: string) => process.stdout.write(`${line}\n`)

for await (const line of createInterface({ input: process.stdin })) {
  const [command, kind, path] = line.split(' ')
  try {
    if (command === 'go' && kind === 'db') {
      const attempt = await tryLock(path!, { since: new Date().toISOString() })
      if (attempt.acquired) release = attempt.release
      say(attempt.acquired ? 'owner' : 'busy')
    } else if (command === 'go' && kind === 'partial') {
      release = await lockPartial(path!, 'the race')
      say('owner')
    } else if (command === 'release') {
      await release?.()
      release = undefined
      say('released')
    }
  } catch (error) {
    const code = (error as { code?: string }).code
    say(code === 'upload_in_progress' ? 'busy' : `error ${(error as Error).message}`)
  }
}
