import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { backends, type TestDb } from '../helpers/db.js'
import { testContext } from '../helpers/context.js'
import { evaluateAlerts } from '../../src/alerts/engine.js'
import { AutoClock, alertmanagerProblem, configWithAlerts, pagerDutyProblem, slackProblem, startReceiver, type Receiver } from './helpers.js'

const pglite = backends[0]!

describe('resolved notifications say what changed and for how long, per sink (local receivers checking each service)', () => {
  let db: TestDb
  const r: Record<'slack' | 'pd' | 'hook' | 'am', Receiver> = {} as never
  beforeAll(async () => {
    db = await pglite.open()
    r.slack = await startReceiver(slackProblem)
    r.pd = await startReceiver(pagerDutyProblem, { status: 202, body: '{"status":"success"}' })
    r.hook = await startReceiver()
    r.am = await startReceiver(alertmanagerProblem)
  })
  afterAll(async () => {
    for (const x of Object.values(r)) await x.close()
    await db?.close()
  })

  it('breaker-open: "breaker for primary closed at 14:02 UTC after 31m open" in Slack, the webhook, Alertmanager and the log; PagerDuty resolves the same incident', async () => {
    const clock = new AutoClock('2026-03-10T13:31:00Z')
    const config = configWithAlerts({
      sinks: {
        slack: { webhookUrl: `${r.slack.url}/hook`, minSeverity: 'info' },
        pagerduty: { routingKey: 'R0UT1NGKEY', url: `${r.pd.url}/v2/enqueue`, minSeverity: 'info' },
        webhook: { url: `${r.hook.url}/lora`, minSeverity: 'info' },
        alertmanager: { url: r.am.url, minSeverity: 'info' },
      },
    })
    const { ctx, stderr } = testContext({ db, clock, config })
    await db.query(
      `INSERT INTO lora_ops.circuit_breakers (cluster, state, opened_at, open_until, last_error) VALUES ('primary', 'open', $1, $2, '503 from the cluster')`,
      [clock.now(), new Date(clock.now().getTime() + 3_600_000)],
    )
    const fired = await evaluateAlerts(ctx)
    expect(fired.alerts.find((a) => a.rule === 'breaker-open')).toMatchObject({ status: 'firing', notify: 'fired' })

    await db.query(`UPDATE lora_ops.circuit_breakers SET state = 'closed', opened_at = NULL, open_until = NULL`)
    clock.set(new Date('2026-03-10T14:02:00Z'))
    const resolved = await evaluateAlerts(ctx)
    expect(resolved.alerts.find((a) => a.rule === 'breaker-open')).toMatchObject({ status: 'resolved', notify: 'resolved' })
    expect(resolved.deliveries.filter((d) => d.kind === 'resolved' && d.fingerprint.startsWith('breaker-open')).map((d) => [d.sink, d.ok])).toEqual(
      expect.arrayContaining([['slack', true], ['pagerduty', true], ['webhook', true], ['alertmanager', true]]),
    )

    const text = 'breaker for primary closed at 14:02 UTC after 31m open'
    const last = (x: Receiver) => x.requests.filter((q) => q.body.includes('breaker-open')).at(-1)!.json as Record<string, unknown>
    expect((last(r.slack) as { text: string }).text).toBe(`[RESOLVED] critical: breaker-open (primary): ${text}`)
    expect((last(r.slack) as { blocks: { text?: { text: string } }[] }).blocks[1]!.text!.text).toBe(text)
    const hook = last(r.hook) as { event: string; alert: { message: string; ends_at: string }; details: { firing_message: string } }
    expect(hook).toMatchObject({ event: 'alert.resolved', alert: { message: text, ends_at: '2026-03-10T14:02:00.000Z' } })
    expect(hook.details.firing_message).toMatch(/^GPU cluster primary's circuit breaker is open until /)
    const am = (r.am.requests.at(-1)!.json as { annotations: { summary: string }; endsAt: string }[])[0]!
    expect(am).toMatchObject({ annotations: { summary: text }, endsAt: '2026-03-10T14:02:00.000Z' })
    const pdEvents = r.pd.requests.filter((q) => q.body.includes('breaker-open') || (q.json as { event_action: string }).event_action === 'resolve')
    const pdLast = r.pd.requests.at(-1)!.json as { event_action: string; dedup_key: string }
    expect(pdLast.event_action).toBe('resolve')
    expect(pdEvents.some((e) => (e.json as { dedup_key: string }).dedup_key === pdLast.dedup_key && (e.json as { event_action: string }).event_action === 'trigger')).toBe(true)
    expect(stderr()).toContain(`[RESOLVED] critical: breaker-open (primary): ${text}`)
  })
})
