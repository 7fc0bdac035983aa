/**
 * Soak: 200 000 events through a server that randomly fails, resets or
 * stalls, deduplicating by idempotency key. Every event must end up stored
 * exactly once or in the dead letter; none lost.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { DataStorageSink, createAuditStore } from '../../lib/index.js'
import { startFaultServer, created, problem } from '../helpers/fault-server.js'
import { MemoryDeadLetter, makeEvent, silentLogger } from '../helpers/fixtures.js'

const EVENTS = 200_000

// A seeded generator, so a failing run can be reproduced.
function lcg (seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    return state / 2 ** 32
  }
}

test('200 000 events through random 500/503/429, resets and stalls: each stored exactly once or dead-lettered, none lost', async (t) => {
  const seed = Number(process.env.SOAK_SEED ?? 20261128)
  const random = lcg(seed)
  const storedKeys = new Set<string>()
  const storedCount = new Map<number, number>()
  const faults = { 500: 0, 503: 0, 429: 0, reset: 0, resetAfterStore: 0, stall: 0 }
  const store = (body: unknown): void => {
    for (const e of body as Array<{ event_data: { seq: number } }>) storedCount.set(e.event_data.seq, (storedCount.get(e.event_data.seq) ?? 0) + 1)
  }
  const server = await startFaultServer(async (req, res, n) => {
    const key = String(req.headers['idempotency-key'])
    const roll = random()
    if (roll < 0.06) { faults[500]++; return problem(res, 500, 'Internal Server Error') }
    if (roll < 0.12) { faults[503]++; return problem(res, 503, 'Service Unavailable', {}, { 'retry-after': '0' }) }
    if (roll < 0.16) { faults[429]++; return problem(res, 429, 'Too Many Requests') }
    if (roll < 0.20) { faults.reset++; res.socket?.destroy(); return }
    const dedupe = (): void => {
      if (!storedKeys.has(key)) { storedKeys.add(key); store(req.body) }
    }
    if (roll < 0.23) { faults.resetAfterStore++; dedupe(); res.socket?.destroy(); return }
    if (roll < 0.25) {
      faults.stall++
      await new Promise((resolve) => setTimeout(resolve, 400)) // past the client's deadline
      dedupe()
      return created(req, res, n)
    }
    dedupe()
    created(req, res, n)
  })
  t.after(() => server.close())
  const deadLetter = new MemoryDeadLetter()
  const sink = new DataStorageSink({ url: server.url, requestTimeoutMs: 250, retry: { maxAttempts: 10, baseDelayMs: 5, maxDelayMs: 50 } })
  const audit = createAuditStore({ sink, deadLetter, logger: silentLogger, batchSize: 1000, flushIntervalMs: 50 })
  const started = Date.now()
  for (let i = 0; i < EVENTS; i++) {
    if (!audit.write(makeEvent(i, 'soak'))) await new Promise((resolve) => audit.once('drain', resolve))
  }
  await audit.flush().catch(() => {})
  const stats = await audit.close()
  const deadLettered = deadLetter.events().length
  let duplicates = 0
  let missing = 0
  for (let i = 0; i < EVENTS; i++) {
    const n = storedCount.get(i) ?? 0
    if (n > 1) duplicates++
    if (n === 0) missing++
  }
  const injected = Object.values(faults).reduce((a, b) => a + b, 0)
  t.diagnostic(`soak seed=${seed} events=${EVENTS} requests=${server.requests.length} faults=${injected} ${JSON.stringify(faults)} retries=${stats.retries} deadLettered=${deadLettered} lost=${stats.lost} duplicates=${duplicates} wall=${Date.now() - started}ms`)
  assert.equal(stats.lost, 0)
  assert.equal(duplicates, 0)
  assert.ok(injected > 50, 'faults were injected')
  assert.equal(stats.retries >= injected - faults.stall, true)
  // Missing from the server means dead-lettered (a batch can be both, if stored on a try the client never heard back from).
  assert.ok(missing <= deadLettered, `${missing} missing, ${deadLettered} dead-lettered`)
  assert.equal(stats.written + stats.deadLettered, EVENTS)
})
