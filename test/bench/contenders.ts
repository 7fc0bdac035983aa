/**
 * The end-to-end contenders. Each delivers `total` events to the discard
 * server in one load shape and returns events/s, timed from the first event
 * produced to the last one acknowledged:
 * - `burst`: every event is produced in one synchronous loop, then delivered;
 * - `stream`: the producer yields to the event loop (setImmediate) after every
 *   {@link YIELD_EVERY} events.
 */
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { AnyValueMap } from '@opentelemetry/api-logs'
import { ExportResultCode, type ExportResult } from '@opentelemetry/core'
import { BatchLogRecordProcessor, LoggerProvider, type LogRecordExporter, type ReadableLogRecord } from '@opentelemetry/sdk-logs'
import { Pool } from 'undici'
import { DataStorageSink, createAuditStore, type AuditEvent, type AuditStore, type AuditStoreOptions } from '../../lib/index.js'
import { silent } from './common.js'
import { yieldToLoop } from './harness.js'

export type Shape = 'burst' | 'stream'

/** In the stream shape, the producer yields to the event loop after this many events. */
export const YIELD_EVERY = 1000

const PATH = '/api/v1/audit/events/batch'

export interface Workload {
  readonly url: string
  /** Taken in turn, as many times over as `total` needs. */
  readonly events: readonly AuditEvent[]
  readonly total: number
  readonly batchSize: number
}

/** The Pool the raw loop and OpenTelemetry's exporter send through: 4 connections, as the sink's own. */
export function benchPool (url: string): Pool {
  return new Pool(url, { connections: 4 })
}

async function post (pool: Pool, body: string): Promise<void> {
  const res = await pool.request({ path: PATH, method: 'POST', headers: { 'content-type': 'application/json' }, body })
  await res.body.dump()
  if (res.statusCode !== 201) throw new Error(`status ${res.statusCode}`)
}

const perSecond = (total: number, started: number): number => total / ((performance.now() - started) / 1000)

const isYieldPoint = (i: number): boolean => i % YIELD_EVERY === YIELD_EVERY - 1

/**
 * The naive raw loop: JSON.stringify each event of a batch, join them into
 * one string body, await its POST; one batch at a time. In the stream shape
 * the producer sends the full batches it holds before each yield.
 */
export async function rawLoop (pool: Pool, w: Workload, shape: Shape): Promise<number> {
  const queue: AuditEvent[] = []
  let sent = 0 // queue[sent..] is not sent yet
  const send = async (all: boolean): Promise<void> => {
    while (queue.length - sent >= w.batchSize || (all && sent < queue.length)) {
      const end = Math.min(queue.length, sent + w.batchSize)
      const parts: string[] = []
      for (let i = sent; i < end; i++) parts.push(JSON.stringify(queue[i]))
      sent = end
      await post(pool, '[' + parts.join(',') + ']')
    }
  }
  const started = performance.now()
  for (let i = 0; i < w.total; i++) {
    queue.push(w.events[i % w.events.length]!)
    if (shape === 'stream' && isYieldPoint(i)) {
      await send(false)
      await yieldToLoop()
    }
  }
  await send(true)
  return perSecond(w.total, started)
}

// The store the method prescribes: the sink's defaults, and a buffer
// that holds the whole run (like OpenTelemetry's maxQueueSize >= N), so nothing is dropped.
function benchStore (w: Workload, extra: Pick<AuditStoreOptions, 'maxBatchBytes' | 'lanes'>): AuditStore {
  return createAuditStore({ ...extra, sink: new DataStorageSink({ url: w.url }), batchSize: w.batchSize, bufferSize: w.total + w.batchSize, logger: silent })
}

async function closeChecked (store: AuditStore, total: number): Promise<void> {
  const stats = await store.close().catch((err: { stats?: unknown }) => {
    throw new Error(`audit-stream lost events: ${JSON.stringify(err.stats)}`, { cause: err })
  })
  if (stats.written !== total) throw new Error(`audit-stream wrote ${stats.written} of ${total}`)
}

/** audit-stream: record() each event, then await flush(). */
export async function storeRecord (w: Workload, shape: Shape, extra: Pick<AuditStoreOptions, 'maxBatchBytes' | 'lanes'> = {}): Promise<number> {
  const store = benchStore(w, extra)
  const started = performance.now()
  for (let i = 0; i < w.total; i++) {
    store.record(w.events[i % w.events.length]!)
    if (shape === 'stream' && isYieldPoint(i)) await yieldToLoop()
  }
  await store.flush()
  const rate = perSecond(w.total, started)
  await closeChecked(store, w.total)
  return rate
}

/** audit-stream as a Writable: `await pipeline(Readable.from(generator), store)`, stream shape. */
export async function storePipeline (w: Workload): Promise<number> {
  const store = benchStore(w, {})
  async function * produce (): AsyncGenerator<AuditEvent> {
    for (let i = 0; i < w.total; i++) {
      yield w.events[i % w.events.length]!
      if (isYieldPoint(i)) await yieldToLoop()
    }
  }
  const started = performance.now()
  await pipeline(Readable.from(produce()), store)
  const rate = perSecond(w.total, started)
  // The store has ended with the pipeline; close() only reports its stats.
  await closeChecked(store, w.total)
  return rate
}

/**
 * OpenTelemetry's BatchLogRecordProcessor (sdk-logs) with the same batch
 * size and a queue that holds the whole run: emit() each event, then
 * forceFlush(). The exporter POSTs `[` + the bodies' JSON.stringify joined + `]`.
 */
export async function otel (pool: Pool, w: Workload, shape: Shape): Promise<number> {
  let exported = 0
  const exporter: LogRecordExporter = {
    export (logs: ReadableLogRecord[], done: (result: ExportResult) => void) {
      const body = '[' + logs.map((l) => JSON.stringify(l.body)).join(',') + ']'
      post(pool, body).then(() => { exported += logs.length; done({ code: ExportResultCode.SUCCESS }) }, (error: Error) => done({ code: ExportResultCode.FAILED, error }))
    },
    shutdown: async () => {},
    forceFlush: async () => {}
  }
  const provider = new LoggerProvider({
    processors: [new BatchLogRecordProcessor({ exporter, maxExportBatchSize: w.batchSize, maxQueueSize: w.total + w.batchSize, scheduledDelayMillis: 1000 })]
  })
  const logger = provider.getLogger('bench')
  const started = performance.now()
  for (let i = 0; i < w.total; i++) {
    // An AuditEvent is a JSON object; its optional fields keep it from matching AnyValueMap's index signature.
    logger.emit({ body: w.events[i % w.events.length] as unknown as AnyValueMap })
    if (shape === 'stream' && isYieldPoint(i)) await yieldToLoop()
  }
  await provider.forceFlush()
  const rate = perSecond(w.total, started)
  await provider.shutdown()
  if (exported !== w.total) throw new Error(`OpenTelemetry exported ${exported} of ${w.total}`)
  return rate
}
