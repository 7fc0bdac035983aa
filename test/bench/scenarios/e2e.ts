/**
 * 2. End to end over HTTP, against a loopback discard server in a child
 * process (the other core). Contenders:
 * - audit-stream: record() N events, then await flush(), batchSize 1000;
 * - the raw floor: stringify a batch, POST it with undici, wait, repeat;
 * - OpenTelemetry's BatchLogRecordProcessor with the same batch size and an
 *   exporter that POSTs the same JSON with undici, then forceFlush().
 */
import { LoggerProvider, BatchLogRecordProcessor, type LogRecordExporter, type ReadableLogRecord } from '@opentelemetry/sdk-logs'
import { ExportResultCode, type ExportResult } from '@opentelemetry/core'
import { Pool } from 'undici'
import { DataStorageSink, createAuditStore, type AuditEvent } from '../../../lib/index.js'
import { scaled, silent, startDiscardServer, type Row } from '../common.js'
import { makeEvents, meanBytes } from '../events.js'
import { compare, spread, yieldToLoop } from '../harness.js'

const PATH = '/api/v1/audit/events/batch'

async function post (pool: Pool, body: string): Promise<void> {
  const res = await pool.request({ path: PATH, method: 'POST', headers: { 'content-type': 'application/json' }, body })
  await res.body.dump()
  if (res.statusCode !== 201) throw new Error(`status ${res.statusCode}`)
}

/** audit-stream, with the given batch size; events/s. */
export async function auditStreamRun (url: string, events: readonly AuditEvent[], total: number, batchSize: number): Promise<number> {
  // Like OpenTelemetry's maxQueueSize >= N: the buffer holds the whole run, so nothing is dropped.
  const store = createAuditStore({ sink: new DataStorageSink({ url }), batchSize, bufferSize: total + batchSize, logger: silent, maxBatchBytes: 64 * 1024 * 1024 })
  const started = performance.now()
  for (let i = 0; i < total; i++) {
    store.record(events[i % events.length]!)
    if (i % 1000 === 999) await yieldToLoop()
  }
  await store.flush()
  const rate = total / ((performance.now() - started) / 1000)
  const stats = await store.close().catch((err: { stats: unknown }) => { throw new Error(`e2e lost events: ${JSON.stringify(err.stats)}`) })
  if (stats.written !== total) throw new Error(`e2e wrote ${stats.written} of ${total}`)
  return rate
}

export async function endToEnd (reps: number): Promise<Row[]> {
  const server = await startDiscardServer()
  const events = makeEvents(10_000, 500)
  const total = scaled(200_000)
  const batchSize = 1000
  const pool = new Pool(server.url, { connections: 1 })

  const raw = async (): Promise<number> => {
    const started = performance.now()
    for (let i = 0; i < total; i += batchSize) {
      const parts: string[] = []
      for (let j = i; j < Math.min(total, i + batchSize); j++) parts.push(JSON.stringify(events[j % events.length]))
      await post(pool, '[' + parts.join(',') + ']')
    }
    return total / ((performance.now() - started) / 1000)
  }

  const otel = async (): Promise<number> => {
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
      processors: [new BatchLogRecordProcessor({ exporter, maxExportBatchSize: batchSize, maxQueueSize: total + batchSize, scheduledDelayMillis: 1000 })]
    })
    const logger = provider.getLogger('bench')
    const started = performance.now()
    for (let i = 0; i < total; i++) {
      logger.emit({ body: events[i % events.length] as never })
      if (i % 1000 === 999) await yieldToLoop()
    }
    await provider.forceFlush()
    const rate = total / ((performance.now() - started) / 1000)
    await provider.shutdown()
    if (exported !== total) throw new Error(`otel exported ${exported} of ${total}`)
    return rate
  }

  try {
    const [r, a, o] = await compare([
      { name: 'raw floor: stringify + undici POST, sequential', run: raw },
      { name: 'audit-stream record() + flush()', run: () => auditStreamRun(server.url, events, total, batchSize) },
      { name: 'OpenTelemetry BatchLogRecordProcessor', run: otel }
    ], { reps, warmup: 1 })
    const vsRaw = a!.median / r!.median
    const vsOtel = a!.median / o!.median
    const note = `${total} events of ${Math.round(meanBytes(events))} B, batches of ${batchSize}`
    return [
      { scenario: '2. end to end over HTTP', contender: r!.name, unit: 'events/s', median: r!.median, spread: spread(r!), note },
      { scenario: '2. end to end over HTTP', contender: o!.name, unit: 'events/s', median: o!.median, spread: spread(o!), ratio: { against: 'raw floor', value: o!.median / r!.median, target: '(reference)', met: true } },
      { scenario: '2. end to end over HTTP', contender: a!.name, unit: 'events/s', median: a!.median, spread: spread(a!), ratio: { against: 'raw floor', value: vsRaw, target: '>= 1.3', met: vsRaw >= 1.3 } },
      { scenario: '2. end to end over HTTP', contender: a!.name, unit: 'events/s', median: a!.median, spread: spread(a!), ratio: { against: 'OpenTelemetry', value: vsOtel, target: '>= 2', met: vsOtel >= 2 } }
    ]
  } finally {
    await pool.close()
    server.stop()
  }
}
