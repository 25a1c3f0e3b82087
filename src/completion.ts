import { COMMANDS, type CommandSpec } from '../commands/registry.js'

export const SHELLS = ['bash', 'zsh', 'fish'] as const
export type Shell = (typeof SHELLS)[number]

const GLOBAL_FLAGS = ['--profile', '--database-url', '--json', '--wide', '--verbose', '--no-color', '--version', '--help']

function flagsOf(spec: CommandSpec): string[] {
  const flags = (spec.options ?? []).flatMap((o) => o.flags.split(/[ ,]+/).filter((f) => f.startsWith('--')))
  return [...new Set([...flags, '--help'])]
}

/** The tree of words: for each command path prefix, the words that may follow. */
function tree(): Map<string, { words: string[]; flags: string[] }> {
  const nodes = new Map<string, { words: Set<string>; flags: string[] }>()
  const node = (key: string) => {
    if (!nodes.has(key)) nodes.set(key, { words: new Set(), flags: [] })
    return nodes.get(key)!
  }
  node('')
  for (const spec of COMMANDS) {
    for (let i = 0; i < spec.path.length; i++) node(spec.path.slice(0, i).join(' ')).words.add(spec.path[i]!)
    node(spec.path.join(' ')).flags = flagsOf(spec)
  }
  return new Map([...nodes].map(([k, v]) => [k, { words: [...v.words], flags: v.flags }]))
}

function bash(): string {
  const cases = [...tree()]
    .map(([path, n]) => `    "${path}") words="${[...n.words, ...(path === '' ? GLOBAL_FLAGS : n.flags)].join(' ')}" ;;`)
    .join('\n')
  return `# bash completion for lora: source <(lora completion bash)
_lora() {
  local cur path word i words
  cur="\${COMP_WORDS[COMP_CWORD]}"
  path=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    case "$word" in
      --profile|--database-url) ((i++)) ;;
      -*) ;;
      *) if [[ -z "$path" ]]; then path="$word"; else path="$path $word"; fi ;;
    esac
  done
  case "$path" in
${cases}
    *) words="" ;;
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F _lora lora
`
}

function zsh(): string {
  return `#compdef lora
# zsh completion for lora: source <(lora completion zsh)
autoload -U bashcompinit && bashcompinit
${bash()}`
}

function fish(): string {
  const lines = ['# fish completion for lora: lora completion fish | source', 'complete -c lora -f']
  for (const flag of GLOBAL_FLAGS) lines.push(`complete -c lora -l ${flag.slice(2)}`)
  for (const [path, n] of tree()) {
    const seen = path === '' ? '__fish_use_subcommand' : `__fish_seen_subcommand_from ${path.split(' ').pop()}`
    for (const word of n.words) {
      const spec = COMMANDS.find((c) => c.path.join(' ') === (path ? `${path} ${word}` : word))
      lines.push(`complete -c lora -n '${seen}' -a ${word}${spec ? ` -d '${spec.summary.replace(/'/g, '')}'` : ''}`)
    }
    if (path) for (const flag of n.flags) lines.push(`complete -c lora -n '__fish_seen_subcommand_from ${path.split(' ').pop()}' -l ${flag.slice(2)}`)
  }
  return lines.join('\n') + '\n'
}

export function completionScript(shell: Shell): string {
  return shell === 'bash' ? bash() : shell === 'zsh' ? zsh() : fish()
}
