import type { CommandSpec } from '../registry.js'
import { json } from './common.js'

export const EXPERIENCE: CommandSpec[] = [
  {
    path: ['demo'],
    summary: 'a one-minute tour of the whole platform on the embedded stack',
    options: [
      { flags: '--speed <x>', description: 'simulated training time per real time', default: '150' },
      { flags: '--keep', description: 'run in ./lora-demo and keep it afterwards (default: a temporary folder, removed)' },
      { flags: '--interval <duration>', description: "the demo daemon's cycle and the watch's refresh", default: '1s' },
    ],
    help: 'Every screen is a real lora command, run against a real embedded database, storage folder and GPU cluster simulator, with a daemon processing the jobs.',
    examples: [
      'lora demo',
      'lora demo --keep --speed 300',
    ],
    load: () => import('../demo.js'),
  },
  {
    path: ['version'],
    summary: 'print the version, Node, the platform and the schema versions (bundled, applied)',
    options: [json],
    help: `The applied schema version is read only from a database that answers within a second (a running local
service on the embedded profile); otherwise it says "unknown". \`lora -v\` and \`lora --version\` print the version alone.
--json prints {"version", "node", "platform", "schema": {"bundled", "applied"}} (applied: null when unknown).`,
    examples: [
      'lora version',
      'lora version --json',
    ],
    load: () => import('../version.js'),
  },
  {
    path: ['completion'],
    summary: 'print shell completion: bash, zsh or fish',
    args: '[shell...]',
    options: [{ flags: '--complete', description: 'what the scripts call: the candidates after the words given (after --)' }],
    help: `bash: source <(lora completion bash)
zsh:  source <(lora completion zsh)
fish: lora completion fish | source
Completes commands and flags (skipping flag values and arguments), file names for
\`datasets upload\`, and job and dataset ids from the database when it answers
within 300 ms (on the embedded profile: when its local service runs).`,
    examples: [
      'source <(lora completion bash)  # in ~/.bashrc',
      'lora completion fish | source',
    ],
    load: () => import('../completion.js'),
  },
]
