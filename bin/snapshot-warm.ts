// What the startup snapshot holds initialized: the code of the commands run most
// often (scripts, CI gates, a shell prompt), and what they load as they run. Any
// other command works from the snapshot as well: its code is in it, initialized on
// first use, as the module entry would load it. Only loading happens here: a module
// that computes something from the machine at load time must not be listed.
export const WARM: (() => Promise<unknown>)[] = [
  () => import('../commands/jobs-list.js'),
  () => import('../commands/jobs-show.js'),
  () => import('../commands/health.js'),
  () => import('../src/context.js'),
  () => import('../src/io/streams.js'),
  () => import('../src/io/output.js'),
  () => import('cli-table3'),
  () => import('../src/config/load.js'),
  () => import('../src/db/open.js'),
  () => import('../src/db/migrate.js'),
  () => import('../src/db/postgres.js'),
  () => import('postgres'),
  () => import('../src/local-client.js'),
  () => import('../src/db/queries/job-views.js'),
  () => import('../src/jobs/format.js'),
  () => import('../src/metrics/format.js'),
  () => import('../src/health/run.js'),
  () => import('../src/health/render.js'),
  () => import('../src/storage/index.js'),
  () => import('../src/storage/folder.js'),
  () => import('../src/redact.js'),
]
