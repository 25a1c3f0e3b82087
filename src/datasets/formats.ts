/** The training formats a dataset may be in (the `format` column of `datasets`). */
export const FORMATS = ['chat', 'completion', 'instruction'] as const
export type DatasetFormat = (typeof FORMATS)[number]

/** Format indices (in FORMATS order), as the validator and its reports count by them. */
export const CHAT = 0
export const COMPLETION = 1
export const INSTRUCTION = 2

/** Each format's record in short, as line errors name it (in FORMATS order). */
export const RECORD_SHAPES: readonly string[] = ['{"messages": [...]}', '{"prompt", "completion"}', '{"instruction", "input"?, "output"}']
/** The fields a record of each format may hold (in FORMATS order). */
export const ALLOWED_FIELDS: readonly (readonly string[])[] = [['messages'], ['prompt', 'completion'], ['instruction', 'input', 'output']]
/** The fields a record of each format must hold (in FORMATS order). */
export const REQUIRED_FIELDS: readonly (readonly string[])[] = [['messages'], ['prompt', 'completion'], ['instruction', 'output']]
/** The token estimate: characters (UTF-8 bytes) of the text fields per token. */
export const CHARS_PER_TOKEN = 4

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
 */
export const MAX_NESTING = 64
/** The format is the most common among the first records that have one. */
export const DETECTION_RECORDS = 10

/** The end of the --help of the commands that print datasets. */
export const DATASET_JSON_HELP = `A dataset in --json has the columns of the datasets table: id, user_id, name, format,
status, storage_bucket, storage_path, file_size, sha256, total_training_pairs,
total_tokens, training_ready, error_message, validated_at, created_at, updated_at,
deleted_at.`
