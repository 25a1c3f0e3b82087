import type { CommandSpec } from '../registry.js'

export const DAEMON: CommandSpec[] = [
  {
    path: ['daemon'],
    summary: 'run the job processor and alert emitter (--once for cron)',
    options: [
      { flags: '--once', description: 'run one cycle and exit (exit 1 if it failed)' },
      { flags: '--interval <duration>', description: 'time between cycles', default: '30s' },
      { flags: '--concurrency <n>', description: 'GPU cluster calls in flight at once', default: '32' },
      { flags: '--batch <n>', description: 'queued jobs claimed per cycle', default: '20' },
      { flags: '--poll-limit <n>', description: 'running jobs polled per cycle by this daemon', default: '5000' },
      { flags: '--listen <host:port>', description: 'serve /healthz and Prometheus /metrics' },
      { flags: '--log-format <format>', description: 'json or pretty (default: pretty on a terminal, json otherwise)' },
      { flags: '--json', description: 'same as --log-format json' },
    ],
    help: 'Stops cleanly on SIGTERM/SIGINT: finishes the cycle in flight, releases its leases, exits 0.',
    examples: [
      'lora daemon',
      'lora daemon --once  # from cron',
      'lora daemon --interval 10s --listen 127.0.0.1:9464 --log-format json',
    ],
    load: () => import('../daemon.js'),
  },
]
