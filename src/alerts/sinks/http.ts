import type { Dispatcher } from 'undici'
import { redact } from '../../redact.js'

export interface HttpRequest {
  url: string
  body: string
  headers: Record<string, string>
  /** Headers computed at each attempt from the sending time (a timestamped signature). */
  sign?: (now: Date) => Record<string, string>
}

export interface HttpOutcome {
  ok: boolean
  status?: number
  /** Worth another attempt: network failures, timeouts, 408, 429 and 5xx. */
  retryable: boolean
  /** The server's Retry-After, when it sent one. */
  retryAfterMs?: number
  error?: string
}

export const SINK_TIMEOUT_MS = 10_000

/**
 * POSTs one body. Socket time is real time: the deadline is an AbortSignal timer,
 * while the waits between attempts go through the injected clock (deliver.ts).
 */
export async function post(request: HttpRequest, options: { now: Date; dispatcher?: Dispatcher; signal?: AbortSignal; timeoutMs?: number }): Promise<HttpOutcome> {
  const { request: send } = await import('undici')
  const timeoutMs = options.timeoutMs ?? SINK_TIMEOUT_MS
  const deadline = AbortSignal.timeout(timeoutMs)
  const signal = options.signal ? AbortSignal.any([options.signal, deadline]) : deadline
  let status: number
  let retryAfter: string | string[] | undefined
  let text: string
  try {
    const response = await send(request.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'lora', ...request.headers, ...request.sign?.(options.now) },
      body: request.body,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal,
      ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
    })
    status = response.statusCode
    retryAfter = response.headers['retry-after']
    text = await response.body.text()
  } catch (error) {
    if (options.signal?.aborted) return { ok: false, retryable: false, error: 'interrupted' }
    const e = error as NodeJS.ErrnoException
    const reason = deadline.aborted ? `no answer within ${timeoutMs} ms` : (e.code ?? e.message ?? String(error))
    return { ok: false, retryable: true, error: redact(reason) }
  }
  if (status >= 200 && status < 300) return { ok: true, status, retryable: false }
  const retryable = status === 408 || status === 429 || status >= 500
  const seconds = Number(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter)
  return {
    ok: false,
    status,
    retryable,
    ...(Number.isFinite(seconds) && seconds >= 0 ? { retryAfterMs: seconds * 1000 } : {}),
    error: redact(`HTTP ${status}${text ? `: ${text.replace(/\s+/g, ' ').slice(0, 200)}` : ''}`),
  }
}
