/**
 * Quickstart: pipe 100 000 generated events through a store into an
 * in-memory sink, flush, and print the stats and the elapsed time.
 *
 * Run with `npm start`.
 */
import { Readable } from 'node:stream'
import { finished } from 'node:stream/promises'
import { createAuditStore, MemorySink, newAuditEvent, type AuditEvent } from '../lib/index.js'

const TOTAL = Number(process.env.QUICKSTART_EVENTS ?? 100_000)

function * generate (count: number): Generator<AuditEvent> {
  for (let i = 0; i < count; i++) {
    yield newAuditEvent({
      event_type: 'order.updated',
      event_category: 'orders',
      event_action: 'update',
      event_outcome: i % 50 === 0 ? 'failure' : 'success',
      correlation_id: `quickstart-${Math.floor(i / 100)}`,
      actor_type: 'service',
      actor_id: 'quickstart',
      resource_type: 'order',
      resource_id: `order-${i}`,
      event_data: { sequence: i, amount: (i * 7919) % 10_000, currency: 'EUR' }
    })
  }
}

const sink = new MemorySink()
const store = createAuditStore({ sink })
const started = performance.now()

const source = Readable.from(generate(TOTAL))
source.pipe(store, { end: false })
await finished(source)
const result = await store.flush()
const elapsedMs = performance.now() - started
const stats = await store.close()

console.log(`flushed: ${result.written} written, ${result.deadLettered} dead-lettered, ${result.dropped} dropped, ${result.lost} lost`)
console.log(`stored in sink: ${sink.events.length} events in ${sink.batches.length} batches`)
console.log('stats:', stats)
console.log(`elapsed: ${elapsedMs.toFixed(0)} ms (${Math.round(TOTAL / (elapsedMs / 1000))} events/s)`)
