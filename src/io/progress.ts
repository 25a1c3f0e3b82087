import type { Style } from './style.js'

/**
 * A progress bar as text, for live views: `███████░░░░░░` at the width given. The
 * filled part is coloured only when colour is on; without colour the two characters
 * still tell done from to-do.
 */
export function progressBar(percent: number, width: number, style: Style): string {
  const share = Math.min(1, Math.max(0, Number.isFinite(percent) ? percent / 100 : 0))
  const cells = Math.max(1, Math.floor(width))
  const filled = Math.round(share * cells)
  const done = '█'.repeat(filled)
  const todo = '░'.repeat(cells - filled)
  return style.ok(done) + style.muted(todo)
}
