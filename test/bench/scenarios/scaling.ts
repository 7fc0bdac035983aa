/**
 * 5. Scaling, end to end over HTTP to the discard server, which counts the
 * events: every repetition must deliver all of its own. By batch size 10,
 * 100, 1000 and 5000 (events of ~550 B) and by event size 200 B, 2 KB and
 * 20 KB (batches of 1000), in the stream shape, so that the README can
 * recommend settings.
 */
import { delivered, scaled, startDiscardServer, type DiscardServer, type Row } from '../common.js'
import { storeRecord, type Workload } from '../contenders.js'
import { makeEvents, meanBytes } from '../events.js'
import { compare, spread } from '../harness.js'

const WARMUP = 1
const MIB = 1024 * 1024
// Large enough for a batch of 1000 events of 20 KB.
const SWEEP_BATCH_BYTES = 64 * MIB

async function sweeps (server: DiscardServer, reps: number): Promise<Row[]> {
  const rows: Row[] = []
  const run = async (scenario: string, name: string, w: Workload, note: (median: number) => string): Promise<void> => {
    const [m] = await compare([{ name, run: delivered(server, w.total, name, () => storeRecord(w, 'stream', { maxBatchBytes: SWEEP_BATCH_BYTES })) }], { reps, warmup: WARMUP })
    rows.push({ scenario, contender: m!.name, unit: 'events/s', median: m!.median, spread: spread(m!), note: note(m!.median) })
  }
  const medium = makeEvents(5_000, 500)
  for (const batchSize of [10, 100, 1000, 5000]) {
    const total = scaled(batchSize < 100 ? 20_000 : 100_000)
    await run('5. scaling: batch size', `batchSize ${batchSize}, events of ${Math.round(meanBytes(medium))} B`, { url: server.url, events: medium, total, batchSize }, () => `${total} events`)
  }
  for (const bytes of [200, 2_000, 20_000]) {
    const events = makeEvents(2_000, bytes)
    const total = scaled(bytes >= 20_000 ? 10_000 : 100_000)
    const mean = meanBytes(events)
    await run('5. scaling: event size', `batchSize 1000, events of ${Math.round(mean)} B`, { url: server.url, events, total, batchSize: 1000 }, (median) => `${total} events, ${((median * mean) / 1e6).toFixed(0)} MB/s of JSON`)
  }
  return rows
}

export async function scaling (reps: number): Promise<Row[]> {
  const server = await startDiscardServer()
  try {
    return await sweeps(server, reps)
  } finally {
    server.stop()
  }
}
