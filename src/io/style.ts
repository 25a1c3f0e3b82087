import { Chalk } from 'chalk'

/**
 * Whether a stream gets colour: a terminal, no NO_COLOR, no --no-color, and not a
 * terminal that declares it has none (TERM=dumb).
 */
export function colourAllowed(stream: { isTTY?: boolean }, env: Record<string, string | undefined>, noColor = false): boolean {
  return Boolean(stream.isTTY) && !noColor && env.NO_COLOR === undefined && env.TERM !== 'dumb'
}

/** A colour by name, for what is told apart by hue alone (chart lines and their legend). */
export type Hue = 'green' | 'yellow' | 'blue' | 'red' | 'cyan'

/**
 * The colour scheme: every command paints through these names, so that what means
 * "good" or "failed" looks the same everywhere. Without colour each is the identity.
 */
export interface Style {
  readonly enabled: boolean
  /** Healthy, done, reachable. */
  ok(text: string): string
  /** Finished well: a completed job. */
  done(text: string): string
  /** Needs a look: warnings, work in between. */
  warn(text: string): string
  /** Failed, critical, unreachable. */
  fail(text: string): string
  /** Informational tags (log level info, info alerts). */
  info(text: string): string
  /** Waiting its turn: a queued job. */
  pending(text: string): string
  /** Less important text: hints, resolved alerts, no data. */
  dim(text: string): string
  /** Over and gone: cancelled, deleted, the rest of a progress bar. */
  muted(text: string): string
  /** Titles and what must catch the eye. */
  bold(text: string): string
  hue(colour: Hue, text: string): string
}

/** The named styles, for tables that map a value to one. */
export type StyleName = Exclude<keyof Style, 'enabled' | 'hue'>

export function createStyle(enabled: boolean): Style {
  // Colours beyond the basic sixteen are never used, so level 1 whatever the terminal.
  const chalk = new Chalk({ level: enabled ? 1 : 0 })
  return {
    enabled,
    ok: (t) => chalk.green(t),
    done: (t) => chalk.bold.green(t),
    warn: (t) => chalk.yellow(t),
    fail: (t) => chalk.red(t),
    info: (t) => chalk.cyan(t),
    pending: (t) => chalk.blue(t),
    dim: (t) => chalk.dim(t),
    muted: (t) => chalk.gray(t),
    bold: (t) => chalk.bold(t),
    hue: (colour, t) => chalk[colour](t),
  }
}

/** The scheme of a stream, by the rules of colourAllowed. */
export function styleFor(stream: { isTTY?: boolean }, env: Record<string, string | undefined>, noColor = false): Style {
  return createStyle(colourAllowed(stream, env, noColor))
}
