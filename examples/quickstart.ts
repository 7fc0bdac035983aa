/**
 * Quickstart: start the reference DataStorage server (PGlite in memory),
 * pipe 100 000 generated events through a store with a DataStorageSink into
 * it, flush, and check the count stored under this run's correlation id.
 *
 * Run with `npm start`. QUICKSTART_EVENTS changes the number of events.
 * Progress is a bar on a terminal and a plain line per 10 % otherwise.
 */
import { randomUUID } from 'node:crypto'
import { Readable } from 'node:stream'
import { finished } from 'node:stream/promises'
import { DataStorageSink, createAuditStore, newAuditEvent, type AuditEvent } from '../lib/index.js'
import { startDataStorageServer } from '../lib/server/index.js'
import { Progress } from '../lib/cli/progress.js'

const TOTAL = Number(process.env.QUICKSTART_EVENTS ?? 100_000)
const correlationId = `quickstart-${randomUUID()}`

function * generate (count: number): Generator<AuditEvent> {
  for (let i = 0; i < count; i++) {
    // An event kubernaut's DataStorage accepts: a Gateway signal (GatewayAuditPayload).
    yield newAuditEvent({
      event_type: 'gateway.signal.received',
      event_category: 'gateway',
      event_action: 'received',
      event_outcome: i % 50 === 0 ? 'failure' : 'success',
      correlation_id: correlationId,
      actor_type: 'service',
      actor_id: 'gateway-service',
      resource_type: 'Signal',
      resource_id: `fp-${i}`,
      namespace: 'payment',
      event_data: {
        event_type: 'gateway.signal.received',
        signal_type: 'alert',
        signal_name: 'HighMemoryUsage',
        namespace: 'payment',
        fingerprint: `fp-${i}`,
        severity: 'warning',
        resource_kind: 'Deployment',
        resource_name: 'payment-api',
        occurrence_count: 1 + (i % 5)
      }
    })
  }
}

console.log('starting the reference DataStorage server (PGlite in memory)...')
const server = await startDataStorageServer()
console.log(`listening on ${server.url}`)

const store = createAuditStore({ sink: new DataStorageSink({ url: server.url }) })
const progress = new Progress(process.stdout)
const ticker = setInterval(() => progress.advance(store.stats().written, TOTAL, 'stored'), 100)
ticker.unref()

const started = performance.now()
const source = Readable.from(generate(TOTAL))
source.pipe(store, { end: false })
await finished(source)
const result = await store.flush()
const elapsedMs = performance.now() - started
clearInterval(ticker)
progress.advance(store.stats().written, TOTAL, 'stored')
progress.done(true)

const reply = await fetch(`${server.url}/api/v1/audit/events?correlation_id=${correlationId}&limit=1`)
const { pagination } = (await reply.json()) as { pagination: { total: number } }
const stats = await store.close()
await server.close()

console.log(`flush: ${result.written} written, ${result.deadLettered} dead-lettered, ${result.dropped} dropped, ${result.lost} lost`)
console.log(`stored under ${correlationId}: ${pagination.total} of ${TOTAL} events`)
console.log('stats:', stats)
console.log(`throughput: ${Math.round(TOTAL / (elapsedMs / 1000))} events/s (${elapsedMs.toFixed(0)} ms)`)
if (pagination.total !== TOTAL) process.exitCode = 1
