// The client of the local service's command socket (src/local-commands.ts), built to
// dist/forward.cjs with nothing but Node's own modules: bin/lora starts it, instead
// of the whole program, for a read command in a stack whose service runs. It hands
// over the command line, the working directory, the environment and what stdout and
// stderr are; prints what comes back; exits with the command's code. When the
// service does not take the command (another build of lora, another stack, a service
// that is gone), lora runs it itself, as if the service were not there.
import { connect } from 'node:net'
import { join } from 'node:path'
import { endOnClosedPipe } from '../src/launch.js'

const [socketPath, ...argv] = process.argv.slice(2)
const tty = (stream: NodeJS.WriteStream) => ({ isTTY: Boolean(stream.isTTY), ...(stream.isTTY && stream.columns ? { columns: stream.columns } : {}) })

/** The command, run by lora itself; this process ends as it does. */
function runItself(why: string): never {
  if (process.env.LORA_DEBUG === '1') process.stderr.write(`lora: the local service did not run the command (${why}); running it here.\n`)
  const launcher = join(__dirname, '..', 'bin', 'lora')
  // Loaded only here: most runs never need it.
  const { spawnSync } = require('node:child_process') as typeof import('node:child_process')
  const child = spawnSync(launcher, argv, { stdio: 'inherit', env: { ...process.env, LORA_NO_FORWARD: '1' } })
  if (child.signal) process.kill(process.pid, child.signal)
  process.exit(child.status ?? 1)
}

endOnClosedPipe()

// Ctrl-C ends this process as it ends lora: the service sees the connection close and
// interrupts the command.
process.on('SIGINT', () => process.exit(130))
process.on('SIGTERM', () => process.exit(143))

let printed = false
let ended = false
let buffer: Buffer = Buffer.alloc(0)
const socket = connect(socketPath!)
socket.on('connect', () => {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v
  socket.write(`${JSON.stringify({ build: LORA_BUILD, argv, cwd: process.cwd(), env, stdout: tty(process.stdout), stderr: tty(process.stderr) })}\n`)
})
socket.on('data', (chunk: Buffer) => {
  buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk
  while (buffer.length >= 5) {
    const length = buffer.readUInt32BE(1)
    if (buffer.length < 5 + length) break
    const type = String.fromCharCode(buffer[0]!)
    const payload = buffer.subarray(5, 5 + length).toString('utf8')
    buffer = buffer.subarray(5 + length)
    if (type === 'o' || type === 'e') {
      printed = true
      ;(type === 'o' ? process.stdout : process.stderr).write(payload)
    } else if (type === 'x') {
      ended = true
      const code = Number(payload)
      socket.destroy()
      // What was written reaches its pipe or file before the exit.
      process.stdout.write('', () => process.stderr.write('', () => process.exit(code)))
      return
    } else if (type === 'r') {
      ended = true
      socket.destroy()
      runItself(payload)
    }
  }
})
socket.on('error', (error: NodeJS.ErrnoException) => {
  // A socket left by a service that is gone: nothing was sent, lora runs the command.
  if (!printed && !ended) runItself(error.code ?? error.message)
})
socket.on('close', () => {
  if (ended) return
  if (!printed) runItself('the service closed the connection')
  process.stderr.write('error: the local service stopped during this command; run it again.\n')
  process.exit(1)
})
