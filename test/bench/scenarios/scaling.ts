/**
 * 5. Scaling, end to end over HTTP to the discard server, which counts the
 * events: every repetition must deliver all of its own.
 * - By burst size: 10^4, 10^5 and 10^6 events (BENCH_SCALE scales them)
 *   recorded in one synchronous loop, then flushed (the burst shape, batches
 *   of 1000): events/s, the peak RSS (sampled every 2 ms, and at the end),
 *   and the event loop's delay meanwhile (monitorEventLoopDelay at 1 ms
 *   resolution: p99 and max; its samples are the time between its ticks, so
 *   an idle loop shows about 1 ms).
 * - By batch size 10, 100, 1000 and 5000 (events of ~550 B) and by event
 *   size 2 KB and 20 KB (batches of 1000), in the stream shape, so that the
 *   README can recommend settings.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { delivered, scaled, startDiscardServer, type DiscardServer, type Row } from '../common.js'
import { storeRecord, type Workload } from '../contenders.js'
import { makeEvents, meanBytes } from '../events.js'
import { compare, spread, summarize } from '../harness.js'

const WARMUP = 1
const MIB = 1024 * 1024
// Large enough for a batch of 1000 events of 20 KB.
const SWEEP_BATCH_BYTES = 64 * MIB

interface BurstProbe {
  readonly startMib: number
  readonly peakMib: number
  readonly p99Ms: number
  readonly maxMs: number
}

// One burst through audit-stream, with its memory and the event loop's delay watched.
async function probedBurst (w: Workload, probes: BurstProbe[]): Promise<number> {
  const start = process.memoryUsage.rss()
  let peak = start
  const sample = (): void => { peak = Math.max(peak, process.memoryUsage.rss()) }
  // The burst itself blocks the loop, so this first runs when it ends: at about the peak.
  const sampler = setInterval(sample, 2)
  sampler.unref()
  const delay = monitorEventLoopDelay({ resolution: 1 })
  delay.enable()
  // The monitor records the time between its ticks from its second tick on:
  // let it tick before the burst, so that the loop the burst blocks is counted.
  await new Promise((resolve) => setTimeout(resolve, 5))
  try {
    return await storeRecord(w, 'burst')
  } finally {
    delay.disable()
    clearInterval(sampler)
    sample()
    probes.push({ startMib: start / MIB, peakMib: peak / MIB, p99Ms: delay.percentile(99) / 1e6, maxMs: delay.max / 1e6 })
  }
}

async function burstSizes (server: DiscardServer, reps: number): Promise<Row[]> {
  const scenario = '5. scaling: burst size'
  const events = makeEvents(10_000, 500)
  const speed: Row[] = []
  const memory: Row[] = []
  const delays: Row[] = []
  for (const size of [10_000, 100_000, 1_000_000]) {
    const total = scaled(size)
    const name = `burst of ${total.toLocaleString('en-US')} events`
    const probes: BurstProbe[] = []
    const w: Workload = { url: server.url, events, total, batchSize: 1000 }
    const [m] = await compare([{ name, run: delivered(server, total, name, () => probedBurst(w, probes)) }], { reps, warmup: WARMUP })
    const measured = probes.slice(WARMUP)
    const of = (label: string, pick: (p: BurstProbe) => number) => summarize(`${name}: ${label}`, measured.map(pick))
    const rss = of('peak RSS', (p) => p.peakMib)
    const start = of('RSS at the start', (p) => p.startMib)
    const p99 = of('event-loop delay p99', (p) => p.p99Ms)
    const max = of('event-loop delay max', (p) => p.maxMs)
    speed.push({ scenario, contender: name, unit: 'events/s', median: m!.median, spread: spread(m!), note: `${Math.round(meanBytes(events))} B events, batches of 1000` })
    memory.push({ scenario, contender: rss.name, unit: 'MiB', median: rss.median, spread: spread(rss), note: `RSS at the start of the run ${Math.round(start.median)} MiB (median)` })
    delays.push({ scenario, contender: p99.name, unit: 'ms', median: p99.median, spread: spread(p99) })
    delays.push({ scenario, contender: max.name, unit: 'ms', median: max.median, spread: spread(max) })
  }
  return [...speed, ...memory, ...delays]
}

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
  // makeEvents cannot go below ~550 B: the batch size sweep's batchSize 1000 row is the small-event point.
  for (const bytes of [2_000, 20_000]) {
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
    return [...await burstSizes(server, reps), ...await sweeps(server, reps)]
  } finally {
    server.stop()
  }
}
