import { describe, expect, it } from 'vitest'
import type { z } from 'zod'
import { parseRetryAfter } from '../../src/cluster/client.js'
import { redact } from '../../src/redact.js'
import { describeIssue, ListJobsResponse, LogsResponse, StatusResponse, SubmitRequest } from '../../src/cluster/contract.js'

function problem(schema: z.ZodType, value: unknown): string {
  const result = schema.safeParse(value, { reportInput: true })
  if (result.success) throw new Error('expected a validation error')
  return describeIssue(result.error)
}

const running = { status: 'running', progress: 40, current_epoch: 2, current_step: 300, stage: 'training' }

describe('the contract schemas', () => {
  it('accepts a status with metrics and ignores fields it does not know', () => {
    const body = { ...running, metrics: { training_loss: 0.9, learning_rate: 1e-4, throughput: 2900, gpu_utilization: 93 }, extra: 1 }
    expect(StatusResponse.parse(body)).toEqual({ ...running, metrics: body.metrics })
  })

  it('describes the first problem in one phrase naming the field', () => {
    expect(problem(StatusResponse, { ...running, progress: '40' })).toBe('field "progress" expected number, got string')
    expect(problem(StatusResponse, { ...running, progress: 140 })).toBe('field "progress" too big: expected number to be <=100')
    expect(problem(StatusResponse, { ...running, current_step: undefined })).toBe('field "current_step" is missing')
    expect(problem(StatusResponse, 'ok')).toBe('the body expected object, got string')
    expect(problem(StatusResponse, { ...running, status: 'done' })).toBe(
      'field "status" expected one of queued, initializing, running, completed, failed, cancelled, got "done"',
    )
    expect(
      problem(StatusResponse, {
        ...running,
        status: 'completed',
        artifacts: { adapter_url: 'https://a/x', adapter_size: 1, validation_images: [{ url: 'x', size: 1 }] },
      }),
    ).toBe('field "artifacts.validation_images[0].url" invalid URL')
    expect(problem(ListJobsResponse, { jobs: [{ job_id: 'a', external_job_id: 'b', status: 'running', started_at: 'yesterday' }] })).toBe(
      'field "jobs[0].started_at" invalid ISO datetime',
    )
  })

  it('reads a page of training log: lines stamped with ISO times, and the cursor to ask from next', () => {
    const page = { lines: [{ ts: '2026-03-10T12:00:01.500Z', text: 'epoch 1/3 step 10/300: loss 2.1' }], cursor: '7', extra: true }
    expect(LogsResponse.parse(page)).toEqual({ lines: page.lines, cursor: '7' })
    expect(LogsResponse.parse({ lines: [], cursor: '0' })).toEqual({ lines: [], cursor: '0' })
    expect(problem(LogsResponse, { lines: [{ ts: 'noon', text: 'x' }], cursor: '1' })).toBe('field "lines[0].ts" invalid ISO datetime')
    expect(problem(LogsResponse, { lines: [{ ts: '2026-03-10T12:00:00Z' }], cursor: '1' })).toBe('field "lines[0].text" is missing')
    expect(problem(LogsResponse, { lines: [], cursor: 7 })).toBe('field "cursor" expected string, got number')
    expect(problem(LogsResponse, { cursor: '1' })).toBe('field "lines" is missing')
  })

  it('takes the dataset statistics of a submission as optional whole numbers', () => {
    const base = { job_id: '3f2b8c1e-5a4d-4e6f-9b7a-0c1d2e3f4a5b', dataset_url: 'https://s/d.jsonl', hyperparameters: {}, gpu_config: { gpu_type: 'A10G', num_gpus: 1 } }
    expect(SubmitRequest.parse(base)).toEqual(base)
    expect(SubmitRequest.parse({ ...base, dataset_stats: { training_pairs: 50, tokens: 9000 } }).dataset_stats).toEqual({ training_pairs: 50, tokens: 9000 })
    expect(problem(SubmitRequest, { ...base, dataset_stats: { training_pairs: 1.5, tokens: 9000 } })).toBe('field "dataset_stats.training_pairs" expected int, got number')
    expect(problem(SubmitRequest, { ...base, dataset_stats: { training_pairs: 5 } })).toBe('field "dataset_stats.tokens" is missing')
  })

  it('requires the submission fields and a GPU configuration', () => {
    const valid = {
      job_id: '3f2b8c1e-5a4d-4e6f-9b7a-0c1d2e3f4a5b',
      dataset_url: 'https://s/x?token=t',
      hyperparameters: {},
      gpu_config: { gpu_type: 'L4', num_gpus: 1, region: 'eu' },
    }
    expect(SubmitRequest.parse(valid).gpu_config).toEqual({ gpu_type: 'L4', num_gpus: 1, region: 'eu' })
    expect(problem(SubmitRequest, { ...valid, job_id: 'job-1' })).toBe('field "job_id" invalid GUID')
    expect(problem(SubmitRequest, { ...valid, gpu_config: { gpu_type: 'L4', num_gpus: 0 } })).toBe(
      'field "gpu_config.num_gpus" too small: expected number to be >0',
    )
  })
})

describe('client helpers', () => {
  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = new Date('2026-01-15T12:00:00Z')
    expect(parseRetryAfter('30', now)).toBe(30_000)
    expect(parseRetryAfter(['5', '9'], now)).toBe(5_000)
    expect(parseRetryAfter('Thu, 15 Jan 2026 12:01:00 GMT', now)).toBe(60_000)
    expect(parseRetryAfter('Thu, 15 Jan 2026 11:00:00 GMT', now)).toBe(0)
    expect(parseRetryAfter('soon', now)).toBeUndefined()
    expect(parseRetryAfter(undefined, now)).toBeUndefined()
  })

  it('removes URL query strings and the API key from text', () => {
    expect(redact('see https://h/p/f.jsonl?token=abc&x=1 and sk-123456', { secrets: ['sk-123456'], urlQueries: true })).toBe(
      'see https://h/p/f.jsonl?*** and ***',
    )
  })
})
