/**
 * Runs before each test file. A worker runs file after file in one process (the
 * suite does not isolate files), so what lora keeps per process is reset here: the
 * secrets a file's configurations registered would otherwise redact the next
 * file's output.
 */
import { beforeAll } from 'vitest'
import { clearSecrets } from '../../src/redact.js'

beforeAll(() => {
  clearSecrets()
})
