// The local service runs the frequent read commands for the lora processes of its
// stack, the way a build server runs its clients' builds: bin/lora hands such a
// command to it over a socket beside the database's (dist/forward.cjs), with its
// command line, working directory, environment and what its output streams are, and
// prints what comes back. The command runs here exactly as main() runs it anywhere
// (the demo runs it in-process too), on this process's loaded code, instead of a new
// Node process loading the program: the cost of a short command becomes Node's own
// start. Anything else, and any request this service cannot answer as the caller's
// own lora would, is refused, and the caller runs the command itself.
import type { Socket } from 'node:net'
import { homedir } from 'node:os'
import { z } from 'zod'

/** The command socket's name, beside the database's in the stack's private data folder. */
export const COMMAND_SOCKET = 'cli.sock'

/** Commands with an end, no prompt, no standard input and no writes: the ones handed over. */
export const FORWARDED = new Set(['jobs list', 'jobs show', 'datasets list', 'datasets show', 'health', 'metrics', 'alerts list', 'budget show', 'limits show', 'db status'])

/** A request is a command line and its environment: a megabyte is far more than one. */
const REQUEST_MAX = 1 << 20

/** What this build of lora is: a client of another build (an upgrade, a rebuild) runs its command itself. */
export const BUILD = typeof LORA_BUILD === 'string' ? LORA_BUILD : `${LORA_VERSION}+source`

const OutSide = z.object({ isTTY: z.boolean(), columns: z.number().int().positive().optional() })
const Request = z.object({
  build: z.string(),
  argv: z.array(z.string()).max(10_000),
  cwd: z.string().min(1),
  env: z.record(z.string(), z.string()),
  stdout: OutSide,
  stderr: OutSide,
})
export type CommandRequest = z.infer<typeof Request>

/**
 * Frames of the answer: a type byte, the payload's length (32 bits, big-endian), the
 * payload. `o` and `e` carry output for stdout and stderr, `x` the exit code and ends
 * the answer; `r` refuses the command (the reason, for LORA_DEBUG) and ends it too.
 */
export function frame(type: 'o' | 'e' | 'x' | 'r', payload: string): Buffer {
  const body = Buffer.from(payload, 'utf8')
  const head = Buffer.alloc(5)
  head.write(type, 0, 'latin1')
  head.writeUInt32BE(body.length, 1)
  return Buffer.concat([head, body])
}

export interface CommandServer {
  close(): Promise<void>
  /** Commands running now. */
  running(): number
}

/**
 * Serves `socketPath` for the stack whose data folder is `dir`. The socket is made
 * 0600 whatever the umask, in the folder the database's socket is in (private).
 */
export async function serveCommands(socketPath: string, dir: string): Promise<CommandServer> {
  const { listenPrivate } = await import('./db/embedded-server.js')
  let running = 0
  const server = await listenPrivate(socketPath, (socket) => {
    socket.on('error', () => socket.destroy())
    readRequest(socket, (request) => {
      running += 1
      void answer(socket, request, dir).finally(() => (running -= 1))
    })
  })
  // What the handed-over commands load, loaded now rather than by the first of them.
  void warm()
  return { running: () => running, close: () => server.close() }
}

/** One line of JSON; a client that sends more, or something else, is dropped. */
function readRequest(socket: Socket, onRequest: (request: CommandRequest | null) => void): void {
  let chunks: Buffer[] = []
  let size = 0
  const onData = (chunk: Buffer) => {
    const end = chunk.indexOf(10)
    if (end < 0) {
      chunks.push(chunk)
      size += chunk.length
      if (size > REQUEST_MAX) socket.destroy()
      return
    }
    socket.off('data', onData)
    const text = Buffer.concat([...chunks, chunk.subarray(0, end)]).toString('utf8')
    chunks = []
    let request: CommandRequest | null = null
    try {
      const parsed = Request.safeParse(JSON.parse(text))
      request = parsed.success ? parsed.data : null
    } catch {
      request = null
    }
    onRequest(request)
  }
  socket.on('data', onData)
}

async function answer(socket: Socket, request: CommandRequest | null, dir: string): Promise<void> {
  const refusal = request ? await refuse(request, dir) : 'a request lora cannot read'
  if (refusal !== null || !request) {
    socket.end(frame('r', refusal ?? ''))
    return
  }
  const controller = new AbortController()
  // The client's end (Ctrl-C, a closed pipe) interrupts the command, as a signal would.
  socket.once('close', () => controller.abort(Object.assign(new Error('Interrupted: the client went away.'), { name: 'AbortError' })))
  const out = (type: 'o' | 'e', side: z.infer<typeof OutSide>) => ({
    isTTY: side.isTTY,
    ...(side.columns ? { columns: side.columns } : {}),
    write: (chunk: string) => (socket.destroyed ? false : socket.write(frame(type, String(chunk)))),
  })
  let code = 1
  try {
    const { main } = await import('./cli.js')
    code = await main(request.argv, {
      env: request.env,
      cwd: request.cwd,
      stdout: out('o', request.stdout),
      stderr: out('e', request.stderr),
      // No prompt and nothing to read: the commands handed over need neither.
      stdin: { isTTY: false },
      signal: controller.signal,
    })
  } catch (error) {
    // main() reports its own errors; this is lora failing to load its code.
    if (!socket.destroyed) socket.write(frame('e', `error: ${(error as Error).message}\n`))
  }
  if (!socket.destroyed) socket.end(frame('x', String(code)))
}

/** Why this service does not run the command (null: it does). */
async function refuse(request: CommandRequest, dir: string): Promise<string | null> {
  if (request.build !== BUILD) return 'another build of lora'
  // A profile or database named on the command line is the caller's to resolve.
  if (request.argv.some((a) => /^--(profile|database-url)(=|$)/.test(a))) return 'a profile or database given on the command line'
  const { namedCommand } = await import('./cli.js')
  const spec = namedCommand(request.argv)
  if (!spec || !FORWARDED.has(spec.path.join(' '))) return 'not a command the service runs'
  try {
    const { loadConfig } = await import('./config/load.js')
    const { config } = await loadConfig({ cwd: request.cwd, env: request.env, homeDir: request.env.HOME ?? homedir(), flags: {} })
    // The caller's configuration must name this very stack.
    if (!config.database?.embedded || config.database.dir !== dir) return 'another stack'
  } catch {
    // The caller's own run says what is wrong with its configuration.
    return 'a configuration lora cannot load'
  }
  return null
}

async function warm(): Promise<void> {
  try {
    const { COMMANDS } = await import('../commands/registry.js')
    await import('./cli.js')
    await import('./config/load.js')
    for (const spec of COMMANDS) if (FORWARDED.has(spec.path.join(' '))) await spec.load()
  } catch {
    // A command loads its code when it runs anyway.
  }
}
