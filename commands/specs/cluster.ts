import type { CommandSpec } from '../registry.js'
import { json } from './common.js'

export const CLUSTER: CommandSpec[] = [
  {
    path: ['cluster', 'status'],
    summary: "show each GPU cluster's reachability, latency and breaker state",
    options: [json],
    examples: [
      'lora cluster status',
      'lora cluster status --json',
    ],
    load: () => import('../cluster-status.js'),
  },
  {
    path: ['cluster', 'breaker', 'reset'],
    summary: "close a cluster's circuit breaker (on-call; recorded in the audit log)",
    args: '<name>',
    options: [json],
    examples: [
      'lora cluster breaker reset primary',
    ],
    load: () => import('../cluster-breaker-reset.js'),
  },
  {
    path: ['cluster', 'simulate'],
    summary: 'run the GPU cluster simulator on loopback until Ctrl-C',
    options: [
      { flags: '--port <n>', description: 'port (0 picks a free one)', default: '0' },
      { flags: '--host <addr>', description: 'loopback address to listen on', default: '127.0.0.1' },
      { flags: '--speed <x>', description: 'simulated time per real time (60: an hour of training per minute)', default: '1' },
      { flags: '--seed <n>', description: 'seed of the loss noise and of the faults', default: '1' },
      { flags: '--fail-rate <r>', description: 'share of API calls answered 503', default: '0' },
      { flags: '--latency <ms>', description: 'delay added to every API call', default: '0' },
      { flags: '--malformed-rate <r>', description: 'share of answers that break the contract', default: '0' },
      { flags: '--hang-rate <r>', description: 'share of calls never answered', default: '0' },
      { flags: '--job-fail-rate <r>', description: 'share of jobs that end failed', default: '0' },
      { flags: '--never-finish-rate <r>', description: 'share of jobs that never finish', default: '0' },
      { flags: '--api-key <key>', description: 'require this Bearer key' },
      { flags: '--state <file>', description: 'where jobs persist (default .lora/simulator.json)' },
      json,
    ],
    examples: [
      'lora cluster simulate --port 8089 --speed 60',
      'lora cluster simulate --fail-rate 0.2 --latency 300  # a flaky cluster',
    ],
    load: () => import('../cluster-simulate.js'),
  },
]
