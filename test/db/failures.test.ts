import { describe, expect, it } from 'vitest'
import { isConnectionError, isStrayConnectionFailure } from '../../src/db/failures.js'

function withStack(error: Error, frames: string[]): Error {
  error.stack = `${error.name}: ${error.message}\n${frames.map((f) => `    at ${f}`).join('\n')}`
  return error
}

describe('which database failures a long-running command rides out', () => {
  it('takes connection-class codes as connection failures, and statement faults not', () => {
    for (const code of ['ECONNREFUSED', 'CONNECTION_CLOSED', 'CONNECT_TIMEOUT', '57P01', '08006', '53300']) {
      expect(isConnectionError(Object.assign(new Error('x'), { code })), code).toBe(true)
    }
    for (const code of ['23505', '42P01', '40001', undefined]) {
      expect(isConnectionError(Object.assign(new Error('x'), { code })), String(code)).toBe(false)
    }
    expect(isConnectionError(null)).toBe(false)
  })

  it('classifies a stray error by where it came from: the driver, not lora, whatever its code', () => {
    // The driver's crash during a database restart, as the daemon saw it.
    const driverCrash = withStack(new TypeError("Cannot read properties of null (reading 'write')"), [
      'Immediate.nextWrite (/srv/lora/node_modules/postgres/src/connection.js:255:22)',
      'process.processImmediate (node:internal/timers:485:21)',
    ])
    expect(isStrayConnectionFailure(driverCrash)).toBe(true)
    // Raised in Node's stream code on behalf of the driver's socket.
    const viaNode = withStack(new Error('write after end'), [
      'writeAfterEnd (node:internal/streams/writable:337:3)',
      'Socket.write (node:internal/streams/writable:341:10)',
      'nextWrite (C:\\lora\\node_modules\\postgres\\src\\connection.js:255:22)',
    ])
    expect(isStrayConnectionFailure(viaNode)).toBe(true)
    const viaNative = withStack(new URIError('URI malformed'), [
      'decodeURIComponent (<anonymous>)',
      'parseUrl (/srv/lora/node_modules/postgres/src/index.js:550:17)',
    ])
    expect(isStrayConnectionFailure(viaNative)).toBe(true)
  })

  it('keeps lora’s own faults fatal, even when the driver called the code that failed', () => {
    const ours = withStack(new TypeError("Cannot read properties of undefined (reading 'id')"), [
      'onNotify (/srv/lora/dist/chunks/watch-AB12.js:40:11)',
      'NotificationResponse (/srv/lora/node_modules/postgres/src/connection.js:835:5)',
    ])
    expect(isStrayConnectionFailure(ours)).toBe(false)
    expect(isStrayConnectionFailure(withStack(new RangeError('bad'), ['runCycle (/srv/lora/src/daemon/cycle.ts:10:1)']))).toBe(false)
    expect(isStrayConnectionFailure('a string')).toBe(false)
    expect(isStrayConnectionFailure(undefined)).toBe(false)
  })
})
