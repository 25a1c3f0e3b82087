import type { CommandSpec } from '../registry.js'
import { json } from './common.js'

export const LOCAL: CommandSpec[] = [
  {
    path: ['local', 'start'],
    summary: "run the embedded stack's local service in the foreground (database, storage, simulator, job processor)",
    options: [
      { flags: '--no-daemon', description: 'do not process jobs here; leave it to `lora daemon`' },
      { flags: '--idle <duration>', description: 'stop after this long with no client and no job in flight (default: never; 10m in the background)' },
      { flags: '--speed <x>', description: "the simulator's simulated time per real time (default: simulator.speed, LORA_SIMULATOR_SPEED, 6)" },
      { flags: '--background', description: 'quiet, for the service the first command starts (output in .lora/service.log)' },
      json,
    ],
    examples: [
      'lora local start',
      'lora local start --no-daemon --idle 30m',
    ],
    load: () => import('../local-start.js'),
    help: 'Any lora command starts this service in the background when it needs the stack; run it yourself to watch it.',
  },
  {
    path: ['local', 'status'],
    summary: "whether the stack's local service runs, and what it serves",
    options: [json],
    examples: [
      'lora local status',
      'lora local status --json',
    ],
    load: () => import('../local-status.js'),
  },
  {
    path: ['local', 'stop'],
    summary: "stop the stack's local service (the next command starts it again)",
    options: [json],
    examples: [
      'lora local stop',
    ],
    load: () => import('../local-stop.js'),
  },
]
