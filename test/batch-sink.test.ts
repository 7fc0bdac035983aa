import { test } from 'node:test'
import assert from 'node:assert/strict'
import { BatchSink, FlushError, SinkError, createAuditStore, type Batch, type DeadLetterEventInfo, type RetryEventInfo, type SendContext } from '../lib/index.js'
import { MemoryDeadLetter, ScriptedSink, captureLogger, makeEvent, seqs, silentLogger } from './helpers/fixtures.js'

function storeWith (sink: BatchSink, deadLetter?: MemoryDeadLetter) {
  return createAuditStore({ sink, logger: silentLogger, batchSize: 10, flushIntervalMs: 60_000, ...(deadLetter ? { deadLetter } : {}) })
}

test('retryable failures are retried, then delivered', async () => {
  const sink = new ScriptedSink(['retryable', 'retryable', 'ok'])
  const store = storeWith(sink)
  const retries: RetryEventInfo[] = []
  store.on('retry', (info: RetryEventInfo) => retries.push(info))
  for (let i = 0; i < 5; i++) store.record(makeEvent(i))
  const result = await store.flush()
  assert.deepEqual(result, { written: 5, deadLettered: 0, dropped: 0, lost: 0 })
  assert.equal(sink.stored.length, 5)
  assert.equal(store.stats().retries, 2)
  assert.deepEqual(retries.map((r) => [r.attempt, r.statusCode]), [[1, 503], [2, 503]])
  assert.deepEqual(sink.attempts.map((a) => a.attempt), [1, 2, 3])
  assert.equal(new Set(sink.attempts.map((a) => a.id)).size, 1, 'every attempt sends the same batch id')
  await store.close()
})

test('errors that are not SinkErrors count as retryable', async () => {
  const sink = new ScriptedSink([new TypeError('socket hang up'), 'ok'])
  const store = storeWith(sink)
  store.record(makeEvent(1))
  await store.flush()
  assert.equal(sink.stored.length, 1)
  assert.equal(store.stats().retries, 1)
  await store.close()
})

test('a batch out of attempts goes to the dead letter with reason exhausted', async () => {
  const sink = new ScriptedSink([], { fallback: 'retryable', retry: { maxAttempts: 3 } })
  const deadLetter = new MemoryDeadLetter()
  const store = storeWith(sink, deadLetter)
  for (let i = 0; i < 4; i++) store.record(makeEvent(i))
  await assert.rejects(store.flush(), (err: unknown) => {
    assert.ok(err instanceof FlushError)
    assert.deepEqual(err.result, { written: 0, deadLettered: 4, dropped: 0, lost: 0 })
    return true
  })
  assert.equal(sink.attempts.length, 3)
  assert.equal(deadLetter.entries.length, 1)
  const entry = deadLetter.entries[0]!
  assert.equal(entry.reason, 'exhausted')
  assert.equal(entry.attempts, 3)
  assert.equal(entry.batchId, sink.attempts[0]!.id)
  assert.equal(entry.error?.statusCode, 503)
  assert.deepEqual(seqs(deadLetter.events()), [0, 1, 2, 3])
  await store.close()
})

test('a non-retryable failure is dead-lettered at once with reason rejected', async () => {
  const sink = new ScriptedSink(['rejected'])
  const deadLetter = new MemoryDeadLetter()
  const store = storeWith(sink, deadLetter)
  const seen: DeadLetterEventInfo[] = []
  store.on('dead-letter', (info: DeadLetterEventInfo) => seen.push(info))
  store.record(makeEvent(1))
  await assert.rejects(store.flush(), FlushError)
  assert.equal(sink.attempts.length, 1)
  assert.equal(deadLetter.entries[0]?.reason, 'rejected')
  assert.deepEqual(seen.map((s) => [s.reason, s.count, s.stored]), [['rejected', 1, true]])
  await store.close()
})

test('without a dead letter, failed events are counted lost and logged at error level with the count', async () => {
  const { logger, lines } = captureLogger('warn')
  const sink = new ScriptedSink(['rejected'])
  const store = createAuditStore({ sink, logger, batchSize: 10, flushIntervalMs: 60_000 })
  store.record(makeEvent(1))
  store.record(makeEvent(2))
  await assert.rejects(store.flush(), (err: unknown) => err instanceof FlushError && err.result.lost === 2)
  assert.equal(store.stats().lost, 2)
  const line = lines.map((l) => JSON.parse(l) as { level: number, msg: string, count?: number }).find((l) => l.level === 50)
  assert.equal(line?.msg, 'events lost: no dead letter')
  assert.equal(line?.count, 2)
  await assert.rejects(store.close(), { code: 'AUDIT_ERR_LOSS' })
})

test('a failing dead letter counts the events lost and never errors the stream', async () => {
  const sink = new ScriptedSink(['rejected'])
  const deadLetter = new MemoryDeadLetter()
  deadLetter.failing = true
  const store = storeWith(sink, deadLetter)
  let errored = false
  store.on('error', () => { errored = true })
  store.record(makeEvent(1))
  await assert.rejects(store.flush(), (err: unknown) => err instanceof FlushError && err.result.lost === 1)
  store.record(makeEvent(2))
  assert.deepEqual(await store.flush(), { written: 1, deadLettered: 0, dropped: 0, lost: 0 })
  assert.equal(errored, false)
  await assert.rejects(store.close(), { code: 'AUDIT_ERR_LOSS' })
})

test('retryAfterMs from the server is honoured and capped at maxDelayMs', async () => {
  class SlowDown extends BatchSink {
    times: number[] = []
    protected async sendBatch (_batch: Batch, ctx: SendContext): Promise<void> {
      this.times.push(performance.now())
      if (ctx.attempt === 1) throw new SinkError('HTTP 429', { retryable: true, statusCode: 429, retryAfterMs: 150 })
      if (ctx.attempt === 2) throw new SinkError('HTTP 503', { retryable: true, statusCode: 503, retryAfterMs: 60_000 })
    }
  }
  const sink = new SlowDown({ retry: { baseDelayMs: 1, maxDelayMs: 300, jitter: 0 } })
  const store = storeWith(sink)
  store.record(makeEvent(1))
  await store.flush()
  const [a, b, c] = sink.times as [number, number, number]
  assert.ok(b - a >= 145, `waited ${b - a} ms after Retry-After 150 ms`)
  assert.ok(c - b >= 295 && c - b < 5_000, `waited ${c - b} ms; the cap is 300 ms`)
  await store.close()
})

test('with concurrency 1 the sink never sends two batches at once', async () => {
  let active = 0
  let peak = 0
  class Counting extends BatchSink {
    protected async sendBatch (): Promise<void> {
      active++
      peak = Math.max(peak, active)
      await new Promise((resolve) => setTimeout(resolve, 2))
      active--
    }
  }
  const store = createAuditStore({ sink: new Counting(), logger: silentLogger, batchSize: 2, flushIntervalMs: 60_000 })
  for (let i = 0; i < 20; i++) store.record(makeEvent(i))
  assert.equal((await store.flush()).written, 20)
  assert.equal(peak, 1)
  await store.close()
})

test('with concurrency n the sink overlaps up to n batches, and a flush still waits for all of them', async () => {
  let active = 0
  let peak = 0
  const stored: number[] = []
  class Counting extends BatchSink {
    protected async sendBatch (batch: Batch): Promise<void> {
      active++
      peak = Math.max(peak, active)
      await new Promise((resolve) => setTimeout(resolve, 5))
      stored.push(batch.events.length)
      active--
    }
  }
  const store = createAuditStore({ sink: new Counting({ concurrency: 3 }), logger: silentLogger, batchSize: 2, flushIntervalMs: 60_000 })
  for (let i = 0; i < 20; i++) store.record(makeEvent(i))
  assert.equal((await store.flush()).written, 20)
  assert.equal(stored.reduce((a, b) => a + b, 0), 20)
  assert.equal(peak, 3)
  await store.close()
})

test('retries are logged at warn with ids and counts, successes at debug', async () => {
  const { logger, lines } = captureLogger('debug')
  const sink = new ScriptedSink(['retryable', 'ok'])
  const store = createAuditStore({ sink, logger, batchSize: 10, flushIntervalMs: 60_000 })
  store.record(makeEvent(1))
  await store.flush()
  const parsed = lines.map((l) => JSON.parse(l) as { level: number, msg: string, component?: string, batchId?: string, count?: number })
  const warn = parsed.find((l) => l.msg === 'batch send failed')
  assert.equal(warn?.level, 40)
  assert.equal(warn?.component, 'batch-sink')
  assert.equal(warn?.count, 1)
  assert.equal(typeof warn?.batchId, 'string')
  assert.equal(parsed.find((l) => l.msg === 'batch written')?.level, 20)
  assert.ok(!lines.some((l) => l.includes('test.event')), 'payloads are never logged')
  await store.close()
})

test('a sink serves one store', () => {
  const sink = new ScriptedSink()
  storeWith(sink)
  assert.throws(() => storeWith(sink), { code: 'AUDIT_ERR_INVALID_OPTION' })
})
