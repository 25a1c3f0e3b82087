import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { parseAllDocuments, parse } from 'yaml'
import { COMMANDS } from '../../commands/registry.js'
import type { Flags } from '../../src/flags.js'
import { tempDir } from '../helpers/cli.js'
import { copyMigratedEmbedded } from '../helpers/db.js'
import { startLora } from '../helpers/lora-process.js'
import { insertDataset, insertJob } from '../jobs/fixtures.js'
import { openEmbedded } from '../../src/db/embedded.js'
import { migrate } from '../../src/db/migrate.js'
import { systemClock } from '../../src/clock.js'

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

const read = (path: string) => readFileSync(new URL(`../../examples/${path}`, import.meta.url), 'utf8')
const GLOBAL = new Set(['--profile', '--database-url', '--json', '--wide', '--verbose', '--no-color', '--version', '--help', '-h'])

/** Each command's flags, as its module declares them. */
const flagsOf = new Map<string, Flags>()
beforeAll(async () => {
  for (const spec of COMMANDS) flagsOf.set(spec.path.join(' '), (await spec.load()).flags)
})

/** Checks that `args` (what follows `lora`) names a real command and only its real flags. */
function checkInvocation(args: string[]): string {
  const words = args.filter((a) => !a.startsWith('-'))
  const spec = [...COMMANDS]
    .sort((a, b) => b.path.length - a.path.length)
    .find((c) => c.path.every((p, i) => words[i] === p))
  expect(spec, `lora ${args.join(' ')} names no command`).toBeDefined()
  expect(spec!.load, `lora ${spec!.path.join(' ')} is not built`).toBeDefined()
  const known = new Set(Object.values(flagsOf.get(spec!.path.join(' '))!).flatMap((o) => o.flags.split(/[ ,]+/).filter((f) => f.startsWith('-'))))
  for (const flag of args.filter((a) => a.startsWith('-'))) {
    const name = flag.split('=')[0]!
    expect(known.has(name) || GLOBAL.has(name), `lora ${spec!.path.join(' ')} has no flag ${name}`).toBe(true)
  }
  return spec!.path.join(' ')
}

/** Every `lora ...` or `npx lora ...` in a line of shell, up to a redirection or separator. */
function invocationsIn(text: string): string[][] {
  const found: string[][] = []
  for (const match of text.matchAll(/(?:^|[\s;&|(])(?:npx\s+)?lora\s+([^\n;&|>]*)/g)) {
    const args = match[1]!.trim().split(/\s+/).filter(Boolean)
    if (args.length) found.push(args)
  }
  return found
}

describe('the examples', () => {
  it('crontab: every line is a valid entry running a real lora command with real flags', () => {
    const lines = read('crontab').split('\n').filter((l) => l.trim() && !l.startsWith('#') && !/^[A-Z_]+=/.test(l))
    expect(lines.length).toBeGreaterThanOrEqual(8)
    const commands = new Set<string>()
    for (const line of lines) {
      const fields = line.split(/\s+/)
      for (const [i, field] of fields.slice(0, 5).entries()) {
        expect(field, `${line}: field ${i + 1}`).toMatch(/^(\*|\d+(-\d+)?)(\/\d+)?(,\d+)*$/)
      }
      expect(fields[5]).toBe('lora')
      const invocations = invocationsIn(fields.slice(6).join(' '))
      expect(invocations).toHaveLength(1)
      commands.add(checkInvocation(invocations[0]!))
    }
    expect([...commands].sort()).toEqual(
      ['cleanup archival-review', 'cleanup notifications', 'cleanup orphans', 'cleanup uploads', 'cleanup validation-images', 'daemon', 'metrics', 'reset-limits'].filter((c) => COMMANDS.some((s) => s.path.join(' ') === c && s.load)).sort(),
    )
  })

  it('systemd unit: sections and keys parse; ExecStart runs the daemon with real flags', () => {
    const sections: Record<string, Record<string, string>> = {}
    let current = ''
    for (const line of read('lora-daemon.service').split('\n')) {
      if (!line.trim() || line.startsWith('#')) continue
      const section = /^\[(\w+)\]$/.exec(line)
      if (section) {
        current = section[1]!
        sections[current] = {}
        continue
      }
      const kv = /^(\w+)=(.*)$/.exec(line)
      expect(kv, line).not.toBeNull()
      sections[current]![kv![1]!] = kv![2]!
    }
    expect(Object.keys(sections)).toEqual(['Unit', 'Service', 'Install'])
    expect(checkInvocation(invocationsIn(sections.Service!.ExecStart!)[0]!)).toBe('daemon')
    expect(sections.Service!.KillSignal).toBe('SIGTERM')
  })

  it('GitHub Actions workflow: parses, and gates on lora health --fail-on warning', () => {
    const workflow = parse(read('github-actions-deploy.yml')) as { jobs: Record<string, { steps?: { run?: string }[]; needs?: string }> }
    const runs = Object.values(workflow.jobs).flatMap((j) => j.steps ?? []).map((s) => s.run ?? '')
    const invocations = runs.flatMap(invocationsIn)
    expect(invocations.map(checkInvocation)).toEqual(expect.arrayContaining(['health', 'db status']))
    expect(runs.join('\n')).toContain('lora health --fail-on warning')
    expect(workflow.jobs.deploy!.needs).toBe('health-gate')
  })

  it('Dockerfile: known instructions; its entrypoint and command run the daemon with real flags', () => {
    const instructions = read('Dockerfile').split('\n').filter((l) => l.trim() && !l.startsWith('#'))
    for (const line of instructions) expect(line).toMatch(/^(FROM|WORKDIR|COPY|RUN|ENV|USER|EXPOSE|ENTRYPOINT|CMD) /)
    const entrypoint = JSON.parse(instructions.find((l) => l.startsWith('ENTRYPOINT'))!.slice('ENTRYPOINT '.length)) as string[]
    const cmd = JSON.parse(instructions.find((l) => l.startsWith('CMD'))!.slice('CMD '.length)) as string[]
    expect(entrypoint).toEqual(['lora'])
    expect(checkInvocation(cmd)).toBe('daemon')
  })

  it('Kubernetes: documents parse; probes on /healthz, Prometheus scrapes /metrics; container args are real', () => {
    const docs = parseAllDocuments(read('kubernetes/deployment.yaml')).map((d) => d.toJS()) as Record<string, any>[]
    expect(docs.map((d) => d.kind)).toEqual(['Deployment', 'Service', 'ServiceMonitor', 'CronJob'])
    const pod = docs[0]!.spec.template
    const container = pod.spec.containers[0]
    expect(container.livenessProbe.httpGet.path).toBe('/healthz')
    expect(container.readinessProbe.httpGet.path).toBe('/healthz')
    expect(pod.metadata.annotations['prometheus.io/path']).toBe('/metrics')
    expect(checkInvocation(container.args)).toBe('daemon')
    expect(container.args.join(' ')).toContain('--listen 0.0.0.0:9464')
    expect(docs[2]!.spec.endpoints[0].path).toBe('/metrics')
    expect(checkInvocation(docs[3]!.spec.jobTemplate.spec.template.spec.containers[0].args)).toBe('db status')
  })

  it('Grafana dashboard: every metric its queries use, and every label they group by, is served on /metrics by a running daemon', async () => {
    const dashboard = JSON.parse(read('grafana/lora-daemon.json')) as { panels: { title: string; targets: { expr: string }[] }[] }
    // Each series a query reads, with the labels the query groups it by.
    const wanted = dashboard.panels.flatMap((p) =>
      p.targets.flatMap((t) => {
        const labels = [...t.expr.matchAll(/\bby\s*\(([^)]*)\)/g)].flatMap((m) => m[1]!.split(',').map((l) => l.trim()).filter(Boolean))
        return [...t.expr.matchAll(/\b(lora_[a-z_]+)/g)].map((m) => ({ panel: p.title, series: m[1]!, labels }))
      }),
    )
    expect(wanted.length).toBeGreaterThanOrEqual(7)

    // A daemon with something to count: a queued job it submits, and a running job
    // the cluster does not know (a failed call, by kind).
    const workspace = tempDir('lora-e2e-grafana-')
    cleanups.push(() => workspace.remove())
    const cwd = workspace.path
    copyMigratedEmbedded(join(cwd, '.lora', 'db'))
    const db = await openEmbedded({ dir: join(cwd, '.lora', 'db'), serve: false, clock: systemClock })
    try {
      await migrate(db)
      const datasetId = await insertDataset(db)
      const [dataset] = await db.query<{ storage_path: string }>('SELECT storage_path FROM datasets WHERE id = $1', [datasetId])
      mkdirSync(dirname(join(cwd, '.lora', 'storage', 'lora-datasets', dataset!.storage_path)), { recursive: true })
      writeFileSync(join(cwd, '.lora', 'storage', 'lora-datasets', dataset!.storage_path), '{"prompt":"a","completion":"b"}\n')
      await insertJob(db, { datasetId })
      await insertJob(db, { datasetId, status: 'running', stage: 'training', externalId: 'sim-unknown', cluster: 'simulator', startedAt: new Date() })
    } finally {
      await db.close()
    }
    // The stack's service without a job processor of its own: the daemon under test is
    // the one that claims and submits the queued job.
    const service = startLora(['local', 'start', '--no-daemon'], { cwd })
    cleanups.push(() => service.stop('SIGTERM'))
    await service.waitFor('stdout', /left to `lora daemon`/)
    const daemon = startLora(['daemon', '--listen', '127.0.0.1:0', '--interval', '200ms'], { cwd })
    cleanups.push(() => daemon.stop())
    const serving = (await daemon.waitFor('stderr', /serving \/healthz and \/metrics.*\n/)).split('\n').find((l) => l.includes('serving /healthz and /metrics'))!
    const url = (JSON.parse(serving) as { url: string }).url
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)

    // Every series starts at 0 for each cluster; the scrape follows a real submission.
    await daemon.waitFor('stderr', /"msg":"job submitted"/)
    // Scrape until every series the dashboard reads has a sample (bounded; the daemon's exit ends it).
    const samples = (text: string, series: string) =>
      text.split('\n').filter((line) => line.startsWith(`${series}{`) || line.startsWith(`${series} `))
    let scraped = ''
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
      const response = await fetch(`${url}/metrics`)
      expect(response.status).toBe(200)
      scraped = await response.text()
      if (wanted.every((w) => samples(scraped, w.series).length > 0)) break
      if (daemon.child.exitCode !== null || daemon.child.signalCode !== null) break
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
    const exported = new Set([...scraped.matchAll(/^# TYPE (lora_[a-z_]+) /gm)].map((m) => m[1]!))
    expect(exported.size).toBeGreaterThanOrEqual(6)
    const missingNames = wanted.filter((w) => !exported.has(w.series.replace(/_(bucket|sum|count)$/, ''))).map((w) => `${w.panel}: ${w.series}`)
    expect(missingNames, 'metrics the dashboard reads that the daemon does not serve').toEqual([])
    const missingSamples = wanted.filter((w) => samples(scraped, w.series).length === 0).map((w) => `${w.panel}: ${w.series}`)
    expect(missingSamples, 'series the dashboard reads with no sample after the daemon counted a submission and a failed call').toEqual([])
    const missingLabels = wanted.flatMap((w) =>
      w.labels
        .filter((label) => !samples(scraped, w.series).some((line) => new RegExp(`[{,]${label}="`).test(line)))
        .map((label) => `${w.panel}: ${w.series} has no label ${label}`),
    )
    expect(missingLabels, 'labels the dashboard groups by that the daemon does not put on the series').toEqual([])
    expect(daemon.output().stderr).toContain('"msg":"job submitted"')
    expect(await daemon.stop('SIGTERM')).toBe(0)
  }, 120_000)
})
