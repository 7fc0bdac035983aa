/**
 * 2. End to end over HTTP (issue #13's method): 100 000 events in batches of
 * 1000 to a loopback discard server in a child process (the other core),
 * which counts the events of every body; each repetition of each contender
 * must deliver exactly N. Two load shapes (see ../contenders.ts), each with
 * its contenders alternating in this process:
 * - 2a. burst: the raw loop, audit-stream record() x N then flush(),
 *   OpenTelemetry emit x N then forceFlush();
 * - 2b. stream: the same three, and `await pipeline(Readable.from(gen), store)`.
 * Each shape also runs the store with `lanes: 0` (no hash chain), as a reference figure.
 */
import type { Pool } from 'undici'
import { delivered, scaled, startDiscardServer, type DiscardServer, type Row } from '../common.js'
import { benchPool, otel, rawLoop, storePipeline, storeRecord, type Workload } from '../contenders.js'
import { makeEvents, meanBytes } from '../events.js'
import { compare, spread, type Measured } from '../harness.js'

const BATCH = 1000

interface Setup {
  readonly server: DiscardServer
  readonly rawPool: Pool
  readonly otelPool: Pool
  readonly w: Workload
  readonly note: string
}

async function withSetup (fn: (setup: Setup) => Promise<Row[]>): Promise<Row[]> {
  const server = await startDiscardServer()
  const rawPool = benchPool(server.url)
  const otelPool = benchPool(server.url)
  const events = makeEvents(10_000, 500)
  const w: Workload = { url: server.url, events, total: scaled(100_000), batchSize: BATCH }
  try {
    return await fn({ server, rawPool, otelPool, w, note: `${w.total} events of ${Math.round(meanBytes(events))} B, batches of ${BATCH}` })
  } finally {
    await Promise.all([rawPool.close(), otelPool.close()])
    server.stop()
  }
}

function row (scenario: string, m: Measured, note?: string): Row {
  return { scenario, contender: m.name, unit: 'events/s', median: m.median, spread: spread(m), ...(note === undefined ? {} : { note }) }
}

// `m` judged by its median over `baseline`'s; a goal of undefined makes it a reference figure.
function judged (scenario: string, m: Measured, baseline: Measured, against: string, goal: number | undefined): Row {
  const value = m.median / baseline.median
  const ratio = goal === undefined ? { against, value, target: '(reference)', met: true } : { against, value, target: `>= ${goal.toFixed(1)}`, met: value >= goal }
  return { ...row(scenario, m), ratio }
}

export async function burst (reps: number): Promise<Row[]> {
  return withSetup(async ({ server, rawPool, otelPool, w, note }) => {
    const check = (name: string, run: () => Promise<number>) => ({ name, run: delivered(server, w.total, name, run) })
    const [raw, store, unchained, ot] = await compare([
      check('raw loop: stringify, join, await POST, sequential', () => rawLoop(rawPool, w, 'burst')),
      check('audit-stream record() x N, flush()', () => storeRecord(w, 'burst')),
      check(UNCHAINED_BURST, () => storeRecord(w, 'burst', { lanes: 0 })),
      check('OpenTelemetry BatchLogRecordProcessor: emit x N, forceFlush()', () => otel(otelPool, w, 'burst'))
    ], { reps, warmup: 1 })
    const scenario = '2a. burst over HTTP'
    return [
      row(scenario, raw!, `${note}; all N produced in one synchronous loop, then delivered`),
      judged(scenario, ot!, raw!, 'raw', undefined),
      judged(scenario, store!, raw!, 'raw', 1),
      judged(scenario, store!, ot!, 'OpenTelemetry', 2),
      judged(scenario, unchained!, raw!, 'raw', undefined)
    ]
  })
}

export async function stream (reps: number): Promise<Row[]> {
  return withSetup(async ({ server, rawPool, otelPool, w, note }) => {
    const check = (name: string, run: () => Promise<number>) => ({ name, run: delivered(server, w.total, name, run) })
    const [raw, record, unchained, piped, ot] = await compare([
      check('raw loop: stringify, join, await POST, sequential', () => rawLoop(rawPool, w, 'stream')),
      check('audit-stream record() per event, flush()', () => storeRecord(w, 'stream')),
      check(UNCHAINED_STREAM, () => storeRecord(w, 'stream', { lanes: 0 })),
      check('audit-stream await pipeline(Readable.from(gen), store)', () => storePipeline(w)),
      check('OpenTelemetry BatchLogRecordProcessor: emit, forceFlush()', () => otel(otelPool, w, 'stream'))
    ], { reps, warmup: 1 })
    const scenario = '2b. stream over HTTP'
    return [
      row(scenario, raw!, `${note}; the producer yields (setImmediate) after every 1000 events`),
      judged(scenario, ot!, raw!, 'raw', undefined),
      judged(scenario, record!, raw!, 'raw', 1.5),
      judged(scenario, piped!, raw!, 'raw', 1.3),
      judged(scenario, record!, ot!, 'OpenTelemetry', 2),
      judged(scenario, unchained!, raw!, 'raw', undefined)
    ]
  })
}

// The store without lanes (no hash chain): what the chain costs in each shape, beside the goals.
const UNCHAINED_BURST = 'audit-stream record() x N, flush(), lanes: 0 (no chain)'
const UNCHAINED_STREAM = 'audit-stream record() per event, flush(), lanes: 0 (no chain)'
