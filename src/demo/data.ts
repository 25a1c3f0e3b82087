/** The demo's datasets, generated: a valid chat dataset and one with mistakes. */
const TOPICS = [
  ['reset my password', 'Open Settings, choose Security, then "Reset password"; a link arrives by email within a minute.'],
  ['change my plan', 'Go to Billing, pick the plan you want and confirm; the difference is prorated on your next invoice.'],
  ['export my data', 'Settings, then Data, then "Export": you get a ZIP of everything within the hour.'],
  ['add a teammate', 'Open Team, click "Invite", and enter their email; they join with the role you choose.'],
  ['cancel my subscription', 'Billing, then "Cancel subscription"; you keep access until the end of the period.'],
  ['get an invoice', 'Every invoice is under Billing, then "History"; each has a PDF download.'],
] as const

export function sampleDataset(records = 240): string {
  const lines: string[] = []
  for (let i = 0; i < records; i++) {
    const [question, answer] = TOPICS[i % TOPICS.length]!
    lines.push(
      JSON.stringify({
        messages: [
          { role: 'system', content: 'You are the support assistant of Acme Cloud. Answer briefly and precisely.' },
          { role: 'user', content: `Hi, how do I ${question}? (ticket ${1000 + i})` },
          { role: 'assistant', content: answer },
        ],
      }),
    )
  }
  return lines.join('\n') + '\n'
}

/** A dataset with the mistakes people make: the validator must reject it, line by line. */
export function malformedDataset(): string {
  const good = JSON.stringify({ messages: [{ role: 'user', content: 'Hello' }, { role: 'assistant', content: 'Hi! How can I help?' }] })
  return [
    good,
    '{"messages": [{"role": "user", "content": "Where is my order?"}',
    JSON.stringify({ messages: [{ role: 'user', content: 'Refund please' }, { role: 'robot', content: 'No.' }] }),
    JSON.stringify({ messages: [{ role: 'user', content: '' }, { role: 'assistant', content: 'Empty question?' }] }),
    JSON.stringify({ messages: [{ role: 'user', content: 'Only a question, no answer' }] }),
    good,
  ].join('\n') + '\n'
}
