/** The training formats a dataset may be in (the `format` column of `datasets`). */
export const FORMATS = ['chat', 'completion', 'instruction'] as const
export type DatasetFormat = (typeof FORMATS)[number]

/** What each format's records hold, for messages and help. */
export const FORMAT_FIELDS: Record<DatasetFormat, string> = {
  chat: '{"messages": [{"role", "content"}, ...]}',
  completion: '{"prompt", "completion"}',
  instruction: '{"instruction", "input"?, "output"}',
}

/** Stable codes of what can be wrong with a file or a line (`kind` in --json). */
export type ErrorKind =
  | 'empty_file'
  | 'compressed'
  | 'wrong_encoding'
  | 'no_records'
  | 'line_too_long'
  | 'nested_too_deep'
  | 'invalid_utf8'
  | 'invalid_json'
  | 'not_object'
  | 'unknown_format'
  | 'mixed_formats'
  | 'format_mismatch'
  | 'missing_field'
  | 'unknown_field'
  | 'not_string'
  | 'empty_string'
  | 'invalid_messages'
  | 'invalid_message'
  | 'invalid_role'
  | 'role_order'
  | 'no_assistant'

export interface LineError {
  /** 1-based; null for what concerns the whole file. */
  line: number | null
  kind: ErrorKind
  message: string
}

/** Errors shown in a report; the rest are counted. */
export const MAX_SHOWN_ERRORS = 20
/** A line longer than this is an error, skipped without being held in memory. */
export const MAX_LINE_BYTES = 32 * 1024 * 1024
/**
 * A line nested deeper than this is an error, found before it is parsed: a training
 * record nests 4 levels at most, and parsing millions of nested arrays takes gigabytes.
 * (Also written inside createBatchValidator, which may refer to nothing outside itself.)
 */
export const MAX_NESTING = 64
/** The format is the most common among the first records that have one. */
export const DETECTION_RECORDS = 10
