import { createWriteStream } from 'node:fs'
import { once } from 'node:events'

const WORDS = (
  'the of and to a in is that for it as was with be by on not this are or from at which but have an they you were ' +
  'there been one all we can their has more its also than into only other some could time these two may then first any ' +
  'new like very over such our most even made after many must through back where much should well people down own just ' +
  'because good each those how being same both still between long under never while last great here another know might ' +
  'come since against right take three place few upon again around however small every often part world system model ' +
  'training data learning rate epoch gradient loss adapter rank alpha token batch size quality fast balanced customer ' +
  'order refund account password shipping invoice support question answer please thanks sorry help check update'
).split(' ')
// Real datasets are mostly ASCII, with some accents, other scripts, emoji and escapes.
const RARE = ['café', 'naïve', 'résumé', 'Zürich', '日本語', 'данные', '🙂', '"quoted"', 'back\\slash', 'tab\there', 'two\nlines']

/**
 * Writes a chat-format JSONL training file of about `bytes` bytes: a system prompt,
 * then one to three user/assistant exchanges per line, text of varied length. The
 * same seed gives the same file.
 */
export async function generateChatJsonl(path: string, bytes: number, seed = 42): Promise<{ bytes: number; records: number }> {
  let state = seed >>> 0
  const random = () => {
    // xorshift32: fast, deterministic.
    state ^= state << 13
    state ^= state >>> 17
    state ^= state << 5
    return (state >>> 0) / 0x100000000
  }
  const sentence = (n: number) => {
    const words: string[] = []
    for (let i = 0; i < n; i++) words.push(random() < 0.01 ? RARE[Math.floor(random() * RARE.length)]! : WORDS[Math.floor(random() * WORDS.length)]!)
    return `${words.join(' ')}.`
  }
  // A pool of distinct records (about 80 MB of text), written in a random order
  // until the size is reached: as varied as the parser can tell, much faster to make.
  const pool: string[] = []
  for (let i = 0; i < 50_000; i++) {
    const messages = [{ role: 'system', content: `You are a helpful support assistant. ${sentence(6 + Math.floor(random() * 10))}` }]
    const turns = 1 + Math.floor(random() * 3)
    for (let t = 0; t < turns; t++) {
      messages.push({ role: 'user', content: sentence(8 + Math.floor(random() * 40)) })
      messages.push({ role: 'assistant', content: sentence(20 + Math.floor(random() * 160)) })
    }
    pool.push(JSON.stringify({ messages }))
  }
  const out = createWriteStream(path, { highWaterMark: 4 * 1024 * 1024 })
  let written = 0
  let records = 0
  while (written < bytes) {
    const lines: string[] = []
    for (let i = 0; i < 2000; i++) lines.push(pool[Math.floor(random() * pool.length)]!)
    const chunk = `${lines.join('\n')}\n`
    written += Buffer.byteLength(chunk)
    records += lines.length
    if (!out.write(chunk)) await once(out, 'drain')
  }
  out.end()
  await once(out, 'finish')
  return { bytes: written, records }
}
