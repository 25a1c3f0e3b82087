/**
 * Secrets never reach output, logs, errors or --json. Every line lora writes
 * passes through redact(): the configured secret values are replaced, and so are
 * the shapes secrets take (passwords in URLs, signed-URL tokens, bearer tokens, JWTs).
 */
const secrets = new Set<string>()

export function registerSecret(value: string | undefined | null): void {
  if (value && value.length >= 4) secrets.add(value)
}

export function clearSecrets(): void {
  secrets.clear()
}

const PATTERNS: [RegExp, string][] = [
  // postgres://user:password@host -> postgres://user:***@host
  [/\b([a-z][a-z0-9+.-]*:\/\/[^:/?#\s@]+:)[^@/\s]+@/gi, '$1***@'],
  // ?token=..., &apikey=..., signature=...
  [/([?&](?:token|apikey|api_key|key|signature|sig|access_token|password)=)[^&\s"']+/gi, '$1***'],
  [/\b(Bearer\s+)[A-Za-z0-9._~+/=-]+/g, '$1***'],
  // JSON Web Tokens (Supabase keys and signed-URL tokens are JWTs).
  [/\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+/g, '***'],
]

export interface RedactOptions {
  /** Secrets known where the text is made (a cluster's key), besides the registered ones. */
  secrets?: (string | undefined)[]
  /**
   * The whole query of every http(s) URL: for text that comes from outside (a cluster's
   * answer), where a signed URL's token may go by any name.
   */
  urlQueries?: boolean
}

export function redact(text: string, options: RedactOptions = {}): string {
  let out = options.urlQueries ? text.replace(/(\bhttps?:\/\/[^\s?#"'<>]*)\?[^\s"'<>]*/gi, '$1?***') : text
  // Longest first: a secret that contains another (a key and its prefix) would
  // otherwise keep what the shorter one did not cover.
  const known = [...secrets, ...(options.secrets ?? [])].filter((s): s is string => s !== undefined && s.length >= 4)
  for (const secret of known.sort((a, b) => b.length - a.length)) {
    if (out.includes(secret)) out = out.split(secret).join('***')
  }
  for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement)
  return out
}

/** Redacts every string inside a value meant for --json output. */
export function redactValue<T>(value: T): T {
  if (typeof value === 'string') return redact(value) as T
  if (Array.isArray(value)) return value.map(redactValue) as T
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactValue(v)])) as T
  }
  return value
}
