/**
 * 5. Scaling: end-to-end events/s over HTTP for batch sizes 10, 100, 1000 and
 * 5000 (events of 500 B), and for event sizes 200 B, 2 KB and 20 KB (batches
 * of 1000), so the README can recommend settings.
 */
import { scaled, startDiscardServer, type Row } from '../common.js'
import { makeEvents, meanBytes } from '../events.js'
import { compare, spread } from '../harness.js'
import { auditStreamRun } from './e2e.js'

export async function scaling (reps: number): Promise<Row[]> {
  const server = await startDiscardServer()
  const rows: Row[] = []
  try {
    const medium = makeEvents(5_000, 500)
    for (const batchSize of [10, 100, 1000, 5000]) {
      const total = scaled(batchSize < 100 ? 20_000 : 100_000)
      const [m] = await compare([{ name: `batchSize ${batchSize}, events of ${Math.round(meanBytes(medium))} B`, run: () => auditStreamRun(server.url, medium, total, batchSize) }], { reps, warmup: 1 })
      rows.push({ scenario: '5. scaling', contender: m!.name, unit: 'events/s', median: m!.median, spread: spread(m!), note: `${total} events` })
    }
    for (const bytes of [200, 2_000, 20_000]) {
      const events = makeEvents(2_000, bytes)
      const total = scaled(bytes >= 20_000 ? 10_000 : 100_000)
      const [m] = await compare([{ name: `batchSize 1000, events of ${Math.round(meanBytes(events))} B`, run: () => auditStreamRun(server.url, events, total, 1000) }], { reps, warmup: 1 })
      const mbps = (m!.median * meanBytes(events)) / 1e6
      rows.push({ scenario: '5. scaling', contender: m!.name, unit: 'events/s', median: m!.median, spread: spread(m!), note: `${total} events, ${mbps.toFixed(0)} MB/s of JSON` })
    }
  } finally {
    server.stop()
  }
  return rows
}
