/**
 * One producer of the scale fault test (test/integration/scale-faults.test.ts):
 * a store over every replica URL records a few events and flushes, in a loop,
 * and reports each flush's events on stdout as one JSON line:
 * `{"ok":[n,...]}` when it resolved, `{"rejected":[n,...],"error":...}` when
 * it rejected; at the end `{"stats":{...}}` after close. Each event carries
 * `{ producer, n }` in event_data, unique per run.
 *
 * argv: id, comma-separated URLs, run time in ms, seed, dead-letter directory.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { pino } from 'pino'
import { DataStorageSink, FileDeadLetter, FlushError, createAuditStore, newAuditEvent } from '../../lib/index.js'
import { prng } from './prng.js'

const [id, urls, runMs, seed, dir] = process.argv.slice(2) as [string, string, string, string, string]
// Seeded per producer, so a failing run can be replayed.
const random = prng(Number(seed) + Number(id) * 7919)

const sink = new DataStorageSink({
  url: urls.split(','),
  requestTimeoutMs: 10_000,
  replicaBackoffMs: 250,
  // A retry budget longer than any outage of the run: up to 60 attempts, at most 1 s apart.
  retry: { maxAttempts: 60, baseDelayMs: 50, maxDelayMs: 1_000 }
})
const store = createAuditStore({ sink, deadLetter: new FileDeadLetter({ dir }), batchSize: 25, flushIntervalMs: 50, logger: pino({ level: 'silent' }) })
const out = (line: unknown): void => { process.stdout.write(JSON.stringify(line) + '\n') }

let n = 0
const until = Date.now() + Number(runMs)
while (Date.now() < until) {
  const ns: number[] = []
  const count = 1 + Math.floor(random() * 40)
  for (let i = 0; i < count; i++) {
    ns.push(n)
    store.record(newAuditEvent({
      event_type: 'scale.fault', event_category: 'test', event_action: 'record', event_outcome: 'success',
      correlation_id: `producer-${id}`, event_data: { producer: Number(id), n: n++ }
    }))
  }
  try {
    await store.flush()
    out({ ok: ns })
  } catch (err) {
    out({ rejected: ns, error: String(err), result: err instanceof FlushError ? err.result : undefined })
  }
  await sleep(Math.floor(random() * 100))
}
const stats = await store.close().catch((err: { stats?: unknown }) => err.stats)
out({ stats, replicas: sink.replicas() })
