/**
 * 8. Scale out: end-to-end events/s through 1, 2 and 3 reference-server
 * replicas (`audit-stream serve` child processes) on one PostgreSQL, with one
 * DataStorageSink listing every replica. Needs DATABASE_URL (each run uses a
 * database of its own, dropped afterwards). On a 2-core machine the replicas,
 * PostgreSQL and the client share the cores: the curve shows where one
 * PostgreSQL becomes the limit. The ingest path itself is scenario 9.
 */
import { DataStorageSink, createAuditStore, type AuditEvent } from '../../../lib/index.js'
import { scaled, silent, type Row } from '../common.js'
import { makeEvents, meanBytes } from '../events.js'
import { compare, spread } from '../harness.js'
import { noPostgres, startServe, stop, withDatabase, type ServeProcess } from '../servers.js'

const BATCH = 1000

async function replicaCurve (reps: number, events: AuditEvent[]): Promise<Row[]> {
  const skipped = noPostgres()
  if (skipped !== undefined) return [{ scenario: '8. replicas', contender: '1, 2, 3 replicas', unit: 'events/s', median: 0, spread: '', note: skipped }]
  const total = scaled(60_000)
  return withDatabase(async (database) => {
    const rows: Row[] = []
    const replicas: ServeProcess[] = []
    try {
      let single: number | undefined
      for (const count of [1, 2, 3]) {
        while (replicas.length < count) replicas.push(await startServe(database))
        const urls = replicas.map((r) => r.url)
        const [m] = await compare([{
          name: `${count} replica${count > 1 ? 's' : ''}`,
          run: async () => {
            // Two batches in flight per replica, so that each replica has work while the other's answer travels.
            const store = createAuditStore({ sink: new DataStorageSink({ url: urls, concurrency: 2 * count }), batchSize: BATCH, bufferSize: total + BATCH, logger: silent, maxBatchBytes: 64 * 1024 * 1024 })
            const started = performance.now()
            for (let i = 0; i < total; i++) {
              store.record(events[i % events.length]!)
              if (i % 1000 === 999) await new Promise((resolve) => setImmediate(resolve))
            }
            await store.flush()
            const rate = total / ((performance.now() - started) / 1000)
            const stats = await store.close()
            if (stats.written !== total) throw new Error(`replicas bench wrote ${stats.written} of ${total}`)
            return rate
          }
        }], { reps, warmup: 1 })
        single ??= m!.median
        rows.push({
          scenario: '8. replicas', contender: m!.name, unit: 'events/s', median: m!.median, spread: spread(m!),
          ...(count > 1 ? { ratio: { against: '1 replica', value: m!.median / single, target: 'informational', met: true } } : {}),
          note: `${Math.round(m!.median / count)} events/s per replica; ${total} events of ${Math.round(meanBytes(events))} B, batches of ${BATCH}, COPY`
        })
      }
    } finally {
      await Promise.all(replicas.map((r) => stop(r.child)))
    }
    return rows
  })
}

export async function replicas (reps: number): Promise<Row[]> {
  const events = makeEvents(5_000, 500)
  return replicaCurve(reps, events)
}
