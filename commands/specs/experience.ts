import type { CommandSpec } from '../registry.js'

export const EXPERIENCE: CommandSpec[] = [
  { path: ['demo'], summary: 'a one-minute tour of the whole platform on the embedded stack' },
  {
    path: ['completion'],
    summary: 'print shell completion: bash, zsh or fish',
    args: '<shell>',
    help: 'bash: source <(lora completion bash)\nzsh:  source <(lora completion zsh)\nfish: lora completion fish | source',
    load: () => import('../completion.js'),
  },
]
