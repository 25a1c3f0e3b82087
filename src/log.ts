import type { IO } from './io/streams.js'
import type { StyleName } from './io/style.js'
import { redact, redactValue } from './redact.js'
import type { Clock } from './clock.js'

export type Level = 'debug' | 'info' | 'warn' | 'error'
export type Fields = Record<string, unknown>

export interface Log {
  debug(message: string, fields?: Fields): void
  info(message: string, fields?: Fields): void
  warn(message: string, fields?: Fields): void
  error(message: string, fields?: Fields): void
  child(bindings: Fields): Log
}

const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 }

/**
 * Structured logs on stderr: JSON lines (pino) for machines, readable lines on a
 * terminal. Secrets are redacted from messages and fields alike.
 */
export async function createLog(io: IO, options: { format?: 'json' | 'pretty'; level?: Level; clock: Clock }): Promise<Log> {
  const format = options.format ?? (io.stderrIsTTY ? 'pretty' : 'json')
  const min = ORDER[options.level ?? 'info']
  if (format === 'json') {
    const { pino } = await import('pino')
    const logger = pino(
      {
        level: options.level ?? 'info',
        base: { pid: process.pid },
        timestamp: () => `,"time":"${options.clock.now().toISOString()}"`,
        formatters: { level: (label) => ({ level: label }) },
      },
      { write: (line: string) => io.errRaw(line) },
    )
    const wrap = (l: typeof logger): Log => ({
      debug: (m, f) => l.debug(redactValue(f ?? {}), redact(m)),
      info: (m, f) => l.info(redactValue(f ?? {}), redact(m)),
      warn: (m, f) => l.warn(redactValue(f ?? {}), redact(m)),
      error: (m, f) => l.error(redactValue(f ?? {}), redact(m)),
      child: (b) => wrap(l.child(redactValue(b))),
    })
    return wrap(logger)
  }
  const LEVEL_STYLE: Record<Level, StyleName> = { debug: 'dim', info: 'info', warn: 'warn', error: 'fail' }
  const make = (bindings: Fields): Log => {
    const write = (level: Level, message: string, fields?: Fields) => {
      if (ORDER[level] < min) return
      const all = { ...bindings, ...fields }
      const extra = Object.entries(all)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ')
      const time = options.clock.now().toISOString().slice(11, 19)
      const tag = io.errStyle[LEVEL_STYLE[level]](level.padEnd(5))
      io.err(`${time} ${tag} ${message}${extra ? `  ${extra}` : ''}`)
    }
    return {
      debug: (m, f) => write('debug', m, f),
      info: (m, f) => write('info', m, f),
      warn: (m, f) => write('warn', m, f),
      error: (m, f) => write('error', m, f),
      child: (b) => make({ ...bindings, ...b }),
    }
  }
  return make({})
}

/** A log that keeps its entries, for tests. */
export function memoryLog(): Log & { entries: { level: Level; message: string; fields: Fields }[] } {
  const entries: { level: Level; message: string; fields: Fields }[] = []
  const make = (bindings: Fields): Log => ({
    debug: (message, fields) => entries.push({ level: 'debug', message, fields: { ...bindings, ...fields } }),
    info: (message, fields) => entries.push({ level: 'info', message, fields: { ...bindings, ...fields } }),
    warn: (message, fields) => entries.push({ level: 'warn', message, fields: { ...bindings, ...fields } }),
    error: (message, fields) => entries.push({ level: 'error', message, fields: { ...bindings, ...fields } }),
    child: (b) => make({ ...bindings, ...b }),
  })
  return Object.assign(make({}), { entries })
}
