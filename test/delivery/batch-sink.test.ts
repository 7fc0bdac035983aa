import { test } from 'node:test'
import assert from 'node:assert/strict'
import { FlushError, SinkError, createAuditStore, parseNote, type BatchSink, type DeadLetterEventInfo, type RetryEventInfo } from '../../lib/index.js'
import { MemoryDeadLetter, captureLogger, makeEvent, seqs, silentLogger } from '../helpers/fixtures.js'
import { ScriptedSink } from '../helpers/scripted-sink.js'

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
  const sink = new ScriptedSink([
    new SinkError('HTTP 429', { retryable: true, statusCode: 429, retryAfterMs: 150 }),
    new SinkError('HTTP 503', { retryable: true, statusCode: 503, retryAfterMs: 60_000 })
  ], { delayMs: 0, retry: { baseDelayMs: 1, maxDelayMs: 300, jitter: 0 } })
  const store = storeWith(sink)
  store.record(makeEvent(1))
  await store.flush()
  const [a, b, c] = sink.attempts.map((attempt) => attempt.at) as [number, number, number]
  assert.ok(b - a >= 145, `waited ${b - a} ms after Retry-After 150 ms`)
  assert.ok(c - b >= 295 && c - b < 5_000, `waited ${c - b} ms; the cap is 300 ms`)
  await store.close()
})

test('without lanes, with concurrency 1 the sink never sends two batches at once', async () => {
  const sink = new ScriptedSink([], { delayMs: 2 })
  const store = createAuditStore({ sink, lanes: 0, logger: silentLogger, batchSize: 2, flushIntervalMs: 60_000 })
  for (let i = 0; i < 20; i++) store.record(makeEvent(i))
  assert.equal((await store.flush()).written, 20)
  assert.equal(sink.peakSending, 1)
  await store.close()
})

test('without lanes, with concurrency n the sink overlaps up to n batches, and a flush still waits for all of them', async () => {
  const sink = new ScriptedSink([], { delayMs: 5, concurrency: 3 })
  const store = createAuditStore({ sink, lanes: 0, logger: silentLogger, batchSize: 2, flushIntervalMs: 60_000 })
  for (let i = 0; i < 20; i++) store.record(makeEvent(i))
  assert.equal((await store.flush()).written, 20)
  assert.equal(sink.storedBatches.map((batch) => batch.events.length).reduce((a, b) => a + b, 0), 20)
  assert.equal(sink.peakSending, 3)
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

/**
 * A sink that validates each item the way the reference server does: a
 * batch holding any invalid item is refused whole with 400, and the problem
 * document names the refused items by index, unless `indexed` is off. With
 * `notes: 'ok'` it keeps the trail notes it is sent, as the reference server does.
 */
function validatingSink (isBad: (json: string) => boolean, indexed: boolean, notes: 'ok' | 'none' = 'none'): ScriptedSink {
  return new ScriptedSink([], {
    retry: { baseDelayMs: 1, maxDelayMs: 2 },
    notes,
    fallback: (batch) => {
      const fieldErrors: Record<string, string> = {}
      batch.events.forEach((json, i) => { if (isBad(json)) fieldErrors[`[${i}].event_type`] = 'must not be empty' })
      if (Object.keys(fieldErrors).length === 0) return 'ok'
      return new SinkError('HTTP 400 Validation Error', {
        retryable: false, split: true, statusCode: 400,
        problem: indexed ? { title: 'Validation Error', field_errors: fieldErrors } : { title: 'Validation Error' }
      })
    }
  })
}

const seqOf = (json: string): number => (JSON.parse(json) as { event_data: { seq: number } }).event_data.seq

async function refuse (count: number, isBad: (seq: number) => boolean, indexed: boolean, lanes?: number): Promise<{ sink: ScriptedSink, deadLetter: MemoryDeadLetter, stats: ReturnType<ReturnType<typeof createAuditStore>['stats']> }> {
  const sink = validatingSink((json) => isBad(seqOf(json)), indexed)
  const deadLetter = new MemoryDeadLetter()
  const store = createAuditStore({ sink, deadLetter, logger: silentLogger, batchSize: count, flushIntervalMs: 60_000, ...(lanes === undefined ? {} : { lanes }) })
  for (let seq = 0; seq < count; seq++) store.record(makeEvent(seq))
  await store.flush().catch(() => {})
  const stats = store.stats()
  await store.close().catch(() => {})
  return { sink, deadLetter, stats }
}

test('without lanes, a 400 that names refused items splits in one step: one dead-letter entry for them, one resend for the rest', async () => {
  const bad = new Set([17, 400, 401, 999])
  const { sink, deadLetter, stats } = await refuse(1000, (seq) => bad.has(seq), true, 0)
  assert.equal(sink.attempts.length, 2)
  assert.equal(deadLetter.entries.length, 1)
  const [entry] = deadLetter.entries
  assert.equal(entry!.reason, 'rejected')
  assert.match(entry!.batchId!, /\.r$/)
  assert.deepEqual(entry!.events.map(seqOf), [17, 400, 401, 999])
  assert.equal(entry!.error?.problem?.field_errors?.['[17].event_type'], 'must not be empty')
  assert.equal(sink.stored.length, 996)
  assert.deepEqual({ written: stats.written, deadLettered: stats.deadLettered, lost: stats.lost, pending: stats.pending }, { written: 996, deadLettered: 4, lost: 0, pending: 0 })
})

test('in a lane, a 400 naming refused items stores the runs between them in seq order and skips each refused run with a note', async () => {
  const bad = new Set([17, 400, 401, 999])
  const sink = validatingSink((json) => bad.has(seqOf(json)), true, 'ok')
  const deadLetter = new MemoryDeadLetter()
  const store = createAuditStore({ sink, deadLetter, logger: silentLogger, batchSize: 1000, flushIntervalMs: 60_000 })
  for (let seq = 0; seq < 1000; seq++) store.record(makeEvent(seq))
  assert.deepEqual(await store.flush().catch((err: FlushError) => err.result), { written: 996, deadLettered: 4, dropped: 0, lost: 0 })
  // The batch, then three stored runs: 0-16, 18-399, 402-998.
  assert.equal(sink.attempts.length, 4)
  assert.deepEqual(sink.stored.map(seqOf), [...Array(1000).keys()].filter((seq) => !bad.has(seq)))
  assert.deepEqual(deadLetter.entries.map((e) => e.events.map(seqOf)), [[17], [400, 401], [999]])
  // Each refused run is one skip note at its lane seqs (seq 1 is event 0), posted in lane order.
  const skips = sink.notes.map((text) => parseNote(text).note)
  assert.deepEqual(skips.map((n) => n.kind === 'skip' ? [n.from, n.to, n.reason] : n.kind), [[18, 18, 'rejected'], [401, 402, 'rejected'], [1000, 1000, 'rejected']])
  await store.close().catch(() => {})
})

test('a lane batch answered 409 sequence-gap is sent again once the earlier batch of its lane settles, without counting a retry', async () => {
  // The first batch of the lane is slow; the second arrives first and is refused with a gap.
  let next = 1
  const sink = new ScriptedSink([], {
    delayMs: 0,
    retry: { maxAttempts: 1 },
    fallback: async (batch) => {
      const trail = batch.trail!
      if (trail.seq === 1) await new Promise((resolve) => setTimeout(resolve, 30))
      if (trail.seq !== next) {
        return new SinkError('HTTP 409 Conflict', { retryable: false, statusCode: 409, problem: { type: 'urn:audit-stream:problem:lane/sequence-gap', expected_seq: next } })
      }
      next += batch.events.length
      return 'ok'
    }
  })
  const store = createAuditStore({ sink, logger: silentLogger, batchSize: 5, flushIntervalMs: 60_000 })
  for (let i = 0; i < 10; i++) store.record(makeEvent(i))
  assert.deepEqual(await store.flush(), { written: 10, deadLettered: 0, dropped: 0, lost: 0 })
  assert.deepEqual(sink.storedBatches.map((batch) => batch.trail!.seq), [1, 6])
  assert.equal(sink.attempts.length, 3)
  assert.equal(store.stats().retries, 0)
  await store.close()
})

test('each lane has at most maxInFlightPerLane batches in flight, and the lanes run side by side', async () => {
  const sink = new ScriptedSink([], { delayMs: 5 })
  const peak = sink.peakSendingByLane
  const store = createAuditStore({ sink, lanes: 4, maxInFlightPerLane: 3, logger: silentLogger, batchSize: 2, flushIntervalMs: 60_000 })
  for (let i = 0; i < 400; i++) store.record(makeEvent(i, `c-${i % 16}`))
  assert.equal((await store.flush()).written, 400)
  assert.deepEqual([...peak.keys()].sort(), [0, 1, 2, 3])
  assert.ok([...peak.values()].every((p) => p <= 3), `peaks ${[...peak.values()].join(',')}`)
  assert.ok([...peak.values()].some((p) => p === 3), `peaks ${[...peak.values()].join(',')}`)
  await store.close()
})

test('a 1000-event batch refused entirely with indexed field errors costs 1 request and 1 dead-letter entry (bisecting cost 1999 and 1000)', async (t) => {
  const indexed = await refuse(1000, () => true, true)
  const bisected = await refuse(1000, () => true, false)
  t.diagnostic(`refused entirely: indexed field_errors ${indexed.sink.attempts.length} requests, ${indexed.deadLetter.entries.length} dead-letter entries; without indices ${bisected.sink.attempts.length} requests, ${bisected.deadLetter.entries.length} entries`)
  assert.equal(indexed.sink.attempts.length, 1)
  assert.equal(indexed.deadLetter.entries.length, 1)
  assert.equal(indexed.stats.deadLettered, 1000)
  // Without indices the sink bisects, 10 levels deep at most: never more than 2047 requests.
  assert.equal(bisected.sink.attempts.length, 1999)
  assert.equal(bisected.stats.deadLettered, 1000)
  assert.equal(bisected.stats.pending, 0)
})

test('bisecting stops at MAX_BISECT_DEPTH and dead-letters what is left whole', async () => {
  const { sink, deadLetter, stats } = await refuse(4096, () => true, false)
  // 2^11 - 1 requests: the batch and 10 levels of halves; pieces of 4 events at the bottom.
  assert.equal(sink.attempts.length, 2047)
  assert.equal(deadLetter.entries.length, 1024)
  assert.ok(deadLetter.entries.every((e) => e.events.length === 4))
  assert.equal(stats.deadLettered, 4096)
  assert.equal(stats.pending, 0)
})

test('without indices one poison event among many is still isolated by bisecting', async () => {
  const { sink, deadLetter, stats } = await refuse(64, (seq) => seq === 40, false)
  assert.equal(deadLetter.entries.length, 1)
  assert.deepEqual(deadLetter.entries[0]!.events.map(seqOf), [40])
  assert.equal(sink.stored.length, 63)
  assert.equal(stats.written, 63)
})
