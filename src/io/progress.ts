/**
 * A progress bar as text, for live views: `███████░░░░░░` at the width given. The
 * filled part is coloured only when colour is on; without colour the two characters
 * still tell done from to-do.
 */
export function progressBar(percent: number, width: number, options: { color?: boolean; code?: string } = {}): string {
  const share = Math.min(1, Math.max(0, Number.isFinite(percent) ? percent / 100 : 0))
  const cells = Math.max(1, Math.floor(width))
  const filled = Math.round(share * cells)
  const done = '█'.repeat(filled)
  const todo = '░'.repeat(cells - filled)
  return options.color ? `\x1b[${options.code ?? '32'}m${done}\x1b[90m${todo}\x1b[0m` : done + todo
}
