import { describe, expect, it } from 'vitest'
import { Option } from 'commander'
import { COMMANDS } from '../commands/registry.js'
import { buildProgram, commandInput, main, optionIssueToError, type MainDeps } from '../src/cli.js'

function deps(): MainDeps & { out(): string } {
  let out = ''
  return {
    env: {},
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: () => true },
    stdin: {},
    cwd: '/nonexistent',
    signal: new AbortController().signal,
    out: () => out,
  }
}

/** The words after `lora` in an example line, as a shell would split them (quotes kept together; up to a pipe, `)` or comment). */
function argvOf(example: string): string[] {
  const line = example.slice(example.indexOf('lora ') + 'lora '.length).split(/\s+#\s/)[0]!.split(/[|)]/)[0]!
  return [...line.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]!)
}

/** The command words of an argv: no flags, no value of a global option. */
function commandWords(argv: string[]): string[] {
  return argv.filter((w, i) => !w.startsWith('-') && !['--profile', '--database-url'].includes(argv[i - 1] ?? ''))
}

describe('examples in help', () => {
  it('gives every command 1 to 4 examples, each of that command', async () => {
    for (const spec of COMMANDS) {
      const path = spec.path.join(' ')
      const { examples } = await spec.load()
      expect(examples.length, `lora ${path}`).toBeGreaterThanOrEqual(1)
      expect(examples.length, `lora ${path}`).toBeLessThanOrEqual(4)
      for (const example of examples) expect(commandWords(argvOf(example)).slice(0, spec.path.length).join(' '), example).toBe(path)
    }
  })

  it("parses each example's flags and arguments with the parser and the command's own schema", async () => {
    for (const spec of COMMANDS) {
      const module = await spec.load!()
      for (const example of module.examples) {
        const argv = argvOf(example)
        let input: Record<string, unknown> | undefined
        const program = await buildProgram(deps(), argv, async (s, cmd, args) => {
          expect(s.path).toEqual(spec.path)
          input = commandInput(s, cmd, args)
        })
        await program.parseAsync(argv, { from: 'user' })
        expect(input, example).toBeDefined()
        const parsed = module.Options.safeParse(input)
        if (!parsed.success) throw new Error(`${example}: ${optionIssueToError(parsed.error.issues).message}`)
      }
    }
  })

  it("declares each flag under the name commander gives its value, so that the command's Options read it", async () => {
    for (const spec of COMMANDS) {
      const { flags } = await spec.load()
      for (const [key, flag] of Object.entries(flags)) expect(new Option(flag.flags).attributeName(), `lora ${spec.path.join(' ')} ${flag.flags}`).toBe(key)
    }
  })

  it("lists a group's commands with their options and arguments without loading their modules", async () => {
    const d = deps()
    expect(await main(['jobs', '--help'], d)).toBe(0)
    const terms = [...d.out().matchAll(/^ {2}(\S+(?: \[options\])?(?: <[^>]+>)?) {2,}/gm)].map((m) => m[1])
    expect(terms).toEqual(['submit [options]', 'list [options]', 'show [options] <id>', 'watch [options] <id>', 'logs [options] <id>', 'cancel [options] <ids...>'])
    const cluster = deps()
    expect(await main(['cluster', '--help'], cluster)).toBe(0)
    expect(cluster.out()).toMatch(/^ {2}breaker \[command\] +reset$/m)
  })

  it('builds only the group of the command argv names; the whole tree for a word it does not know', async () => {
    const named = await buildProgram(deps(), ['jobs', 'list', '--json'], async () => {})
    expect(named.commands.map((c) => c.name())).toEqual(['jobs'])
    const unknown = await buildProgram(deps(), ['jbos', 'list'], async () => {})
    expect(unknown.commands.map((c) => c.name())).toEqual([...new Set(COMMANDS.map((c) => c.path[0]))])
  })

  it("wraps help at the width of the command's own terminal, not this process's", async () => {
    const versionLine = async (columns: number) => {
      let out = ''
      const terminal = { write: (s: string) => (out += s), isTTY: true, columns }
      expect(await main(['--help'], { ...deps(), stdout: terminal, env: { NO_COLOR: '1' } })).toBe(0)
      return out.split('\n').find((line) => /^ {2}version /.test(line))!
    }
    expect(await versionLine(200)).toMatch(/print the version, Node, the platform and the schema versions \(bundled, applied\)$/)
    const narrow = await versionLine(80)
    expect(narrow.length).toBeLessThanOrEqual(80)
    expect(narrow).not.toContain('applied')
  })

  it('ends each command\'s --help with its examples', async () => {
    const d = deps()
    expect(await main(['jobs', 'list', '--help'], d)).toBe(0)
    expect(d.out()).toMatch(/\n\nExamples:\n {2}\$ lora jobs list\n {2}\$ lora jobs list --status active --since 24h\n {2}\$ lora --wide jobs list --status failed --limit 10\n$/)
  })
})
