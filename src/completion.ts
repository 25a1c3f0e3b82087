import { COMMANDS, type CommandSpec } from '../commands/registry.js'
import type { Flags } from './flags.js'

export const SHELLS = ['bash', 'zsh', 'fish'] as const
export type Shell = (typeof SHELLS)[number]

/**
 * Shell completion. The scripts are thin: each shell hands the words typed so far to
 * `lora completion --complete -- WORDS...`, which answers one candidate a line (the
 * line `:files` asks the shell for file names). So the three shells complete alike,
 * and the logic (flag values and positionals skipped, ids from the database) is here,
 * tested once.
 */

const GLOBAL_FLAGS = ['--profile', '--database-url', '--json', '--wide', '--verbose', '--no-color', '--version', '--help']
const GLOBAL_VALUE_FLAGS = new Set(['--profile', '--database-url'])
export const FILES = ':files'

/** What to complete: words as they are, files, or the ids of jobs or datasets (read from the database). */
export type Completion = { words: string[] } | { files: true } | { ids: 'jobs' | 'datasets'; prefix: string }

const longFlags = (flags: Flags) => Object.values(flags).flatMap((o) => o.flags.split(/[ ,]+/).filter((f) => f.startsWith('--')))
/** Flags followed by a value (`--dataset <id|name>`), which the walk must skip; `[value]` is optional and not skipped. */
function valueFlags(flags: Flags): Map<string, string> {
  const map = new Map<string, string>()
  for (const o of Object.values(flags)) {
    const [names, value] = o.flags.split(/\s+(?=<)/)
    if (!value) continue
    for (const name of names!.split(/[ ,]+/)) if (name.startsWith('-')) map.set(name, value)
  }
  return map
}

/** The kind of id a command's positional takes: `jobs ... <id>` a job, `datasets ... <id>` a dataset. */
function idKind(spec: CommandSpec): 'jobs' | 'datasets' | null {
  if (!spec.args || !/<id/.test(spec.args)) return null
  return spec.path[0] === 'jobs' ? 'jobs' : spec.path[0] === 'datasets' ? 'datasets' : null
}

/**
 * What may come next after `words` (the first is `lora`, the last the word being
 * completed, maybe empty). Once the words name a command, its module is loaded for
 * its flags: one command's code, as running it would load.
 */
export async function complete(words: string[]): Promise<Completion> {
  const cur = words[words.length - 1] ?? ''
  const typed = words.slice(1, -1)
  let path: string[] = []
  let spec: CommandSpec | undefined
  let values = new Map<string, string>()
  let flags: Flags = {}
  let positionals = 0
  for (let i = 0; i < typed.length; i++) {
    const word = typed[i]!
    if (GLOBAL_VALUE_FLAGS.has(word) || values.has(word)) i++
    else if (word.startsWith('-')) continue
    else if (!spec && COMMANDS.some((c) => c.path.length > path.length && c.path.slice(0, path.length + 1).join(' ') === [...path, word].join(' '))) {
      path = [...path, word]
      spec = COMMANDS.find((c) => c.path.join(' ') === path.join(' '))
      if (spec) {
        flags = (await spec.load()).flags
        values = valueFlags(flags)
      }
    } else positionals++
  }
  const prev = typed[typed.length - 1]
  const filter = (list: string[]) => ({ words: [...new Set(list)].filter((w) => w.startsWith(cur)) })
  if (prev !== undefined && (GLOBAL_VALUE_FLAGS.has(prev) || values.has(prev))) {
    const value = values.get(prev) ?? ''
    if (/file/.test(value)) return { files: true }
    if (prev === '--dataset') return { ids: 'datasets', prefix: cur }
    return { words: [] }
  }
  const candidates = [...longFlags(flags), ...GLOBAL_FLAGS]
  if (cur.startsWith('-')) return filter(candidates)
  if (!spec) return filter(COMMANDS.filter((c) => c.path.length > path.length && c.path.slice(0, path.length).join(' ') === path.join(' ')).map((c) => c.path[path.length]!))
  const many = /\.\.\./.test(spec.args ?? '')
  if (spec.args && (positionals === 0 || many)) {
    if (spec.path.join(' ') === 'datasets upload') return { files: true }
    if (spec.path.join(' ') === 'completion') return filter([...SHELLS])
    const kind = idKind(spec)
    if (kind) return { ids: kind, prefix: cur }
    return { words: [] }
  }
  return filter(candidates)
}

function bash(): string {
  return `# bash completion for lora: source <(lora completion bash)
_lora() {
  [[ -n \${ZSH_VERSION-} ]] && setopt localoptions ksharrays
  local cur="\${COMP_WORDS[COMP_CWORD]}" line
  local -a words=("\${COMP_WORDS[@]:0:$((COMP_CWORD + 1))}")
  COMPREPLY=()
  while IFS= read -r line; do
    if [[ "$line" == "${FILES}" ]]; then
      # zsh's compgen (bashcompinit) lists every file: the prefix is checked here for both shells.
      while IFS= read -r line; do [[ "$line" == "$cur"* ]] && COMPREPLY+=("$line"); done < <(compgen -f "$cur")
    elif [[ -n "$line" ]]; then
      COMPREPLY+=("$line")
    fi
  done < <(lora completion --complete -- "\${words[@]}" 2>/dev/null)
}
complete -o filenames -F _lora lora
`
}

function zsh(): string {
  return `#compdef lora
# zsh completion for lora: source <(lora completion zsh)
autoload -U +X bashcompinit && bashcompinit
${bash()}`
}

function fish(): string {
  return `# fish completion for lora: lora completion fish | source
function __lora_complete
    set -l words (commandline -opc) (commandline -ct)
    for line in (lora completion --complete -- $words 2>/dev/null)
        if test "$line" = "${FILES}"
            __fish_complete_path (commandline -ct)
        else
            echo $line
        end
    end
end
complete -c lora -f -a '(__lora_complete)'
`
}

export function completionScript(shell: Shell): string {
  return shell === 'bash' ? bash() : shell === 'zsh' ? zsh() : fish()
}
